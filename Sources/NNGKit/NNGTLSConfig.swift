import CNNG

/// A TLS configuration for `tls+tcp://` listeners and dialers (nng 1.5 on Debian uses mbedTLS).
///
/// Immutable once built; nng keeps its own reference when the config is attached to a dialer or listener.
public final class NNGTLSConfig: @unchecked Sendable {
    let raw: OpaquePointer

    private init(mode: nng_tls_mode) throws(NNGError) {
        var config: OpaquePointer?
        try check(nng_tls_config_alloc(&config, mode), "tls config alloc")
        raw = config!
    }

    deinit { nng_tls_config_free(raw) }

    /// A listener's config: our certificate chain and private key in PEM (`keyPassword` for an encrypted key).
    public static func server(certificatePEM: String, keyPEM: String, keyPassword: String? = nil) throws(NNGError)
        -> NNGTLSConfig
    {
        let config = try NNGTLSConfig(mode: NNG_TLS_MODE_SERVER)
        try check(nng_tls_config_own_cert(config.raw, certificatePEM, keyPEM, keyPassword), "tls own cert/key")
        // Clients are not asked for certificates.
        try check(nng_tls_config_auth_mode(config.raw, NNG_TLS_AUTH_MODE_NONE), "tls auth mode")
        return config
    }

    /// A dialer's config that verifies the server against `caPEM` (a CA or the self-signed certificate) and, when
    /// given, `serverName` (must match the certificate's name).
    public static func client(caPEM: String, serverName: String? = nil) throws(NNGError) -> NNGTLSConfig {
        let config = try NNGTLSConfig(mode: NNG_TLS_MODE_CLIENT)
        try check(nng_tls_config_ca_chain(config.raw, caPEM, nil), "tls ca chain")
        if let serverName { try check(nng_tls_config_server_name(config.raw, serverName), "tls server name") }
        try check(nng_tls_config_auth_mode(config.raw, NNG_TLS_AUTH_MODE_REQUIRED), "tls auth mode")
        return config
    }

    /// A dialer's config that encrypts but does not verify the server. Only for tests and trusted networks.
    public static func clientWithoutVerification(serverName: String? = nil) throws(NNGError) -> NNGTLSConfig {
        let config = try NNGTLSConfig(mode: NNG_TLS_MODE_CLIENT)
        if let serverName { try check(nng_tls_config_server_name(config.raw, serverName), "tls server name") }
        try check(nng_tls_config_auth_mode(config.raw, NNG_TLS_AUTH_MODE_NONE), "tls auth mode")
        return config
    }
}

import ArgumentParser
import ClusterCore
import ClusterKit
import ClusterMonitor
import Foundation
import UnixSignals

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `webtoon status`: asks the coordinator over nng (docs/protocol.md §6) and prints queues, runs, workers,
/// budgets and warnings; `--watch` refreshes until SIGINT, `--json` prints the raw status.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the cluster's queue depth, runs, workers, request counts, ETA and stall warnings.",
        discussion: """
            Queries the coordinator with an authenticated statusRequest (no worker registration). The secret comes \
            from --secret-file or $WEBTOON_CLUSTER_SECRET (a trailing newline in the file is ignored). REQ/S is the \
            difference between two refreshes, so it appears from the second refresh of --watch on.
            """
    )


    @Option(help: "The coordinator's nng address: tcp://HOST:PORT or tls+tcp://HOST:PORT.")
    var coordinator: String = "tcp://127.0.0.1:7070"

    @Option(name: .customLong("secret-file"), help: "File holding the cluster secret (default: $WEBTOON_CLUSTER_SECRET).")
    var secretFile: String?

    @OptionGroup var tls: CoordinatorTLSOptions

    @Flag(help: "Refresh the table every --interval seconds until SIGINT or SIGTERM.")
    var watch = false

    @Option(help: "Seconds between refreshes with --watch.")
    var interval: Double = 2

    @Flag(help: "Print the coordinator's status as JSON (one object per refresh with --watch).")
    var json = false

    @Option(help: "Seconds to wait for the coordinator's answer.")
    var timeout: Double = 5

    func validate() throws {
        guard coordinator.hasPrefix("tcp://") || coordinator.hasPrefix("tls+tcp://") else {
            throw ValidationError("--coordinator must be tcp://HOST:PORT or tls+tcp://HOST:PORT")
        }
        guard interval >= 0.1, interval <= 3600 else { throw ValidationError("--interval must be between 0.1 and 3600 seconds") }
        guard timeout >= 0.1, timeout <= 600 else { throw ValidationError("--timeout must be between 0.1 and 600 seconds") }
    }

    func run() async throws {
        let secret = try ClusterSupport.secret(file: secretFile)
        let client = try await CoordinatorClient(
            coordinatorURL: coordinator, tls: try tls.config(for: coordinator),
            secret: secret, sender: "status-cli", timeout: .milliseconds(Int64(timeout * 1000)))
        defer { client.close() }
        guard watch else {
            print(try render(try await client.status(), previous: nil), terminator: "")
            return
        }
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var previous: ClusterStatus?
                while !Task.isCancelled {
                    let status = try await client.status()
                    // Clear the screen and home the cursor, then draw the whole table at once.
                    let text = try render(status, previous: previous)
                    print(json ? text : "\u{1B}[H\u{1B}[2J" + text, terminator: "")
                    fflush(nil)
                    previous = status
                    try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
                }
            }
            group.addTask {
                for await _ in signals { return }
            }
            // Either the refresh loop failed or a signal arrived: stop the other task.
            defer { group.cancelAll() }
            do {
                try await group.next()
            } catch is CancellationError {
                return
            }
        }
    }

    private func render(_ status: ClusterStatus, previous: ClusterStatus?) throws -> String {
        guard json else { return StatusReport.render(status, previous: previous, coordinator: coordinator) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = watch ? [.sortedKeys] : [.sortedKeys, .prettyPrinted]
        return String(decoding: try encoder.encode(status), as: UTF8.self) + "\n"
    }
}

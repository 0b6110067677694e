// Swift cannot call C variadic functions: one typed wrapper per argument kind.
#include <curl/curl.h>

static inline CURLcode ccurl_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_easy_setopt_off_t(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_easy_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
typedef size_t (*ccurl_data_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);
static inline CURLcode ccurl_easy_setopt_data_callback(CURL *h, CURLoption o, ccurl_data_callback v) { return curl_easy_setopt(h, o, v); }
typedef int (*ccurl_xferinfo_callback)(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);
static inline CURLcode ccurl_easy_setopt_xferinfo_callback(CURL *h, CURLoption o, ccurl_xferinfo_callback v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ccurl_easy_getinfo_double(CURL *h, CURLINFO i, double *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ccurl_easy_getinfo_off_t(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ccurl_easy_getinfo_string(CURL *h, CURLINFO i, char **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ccurl_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLMcode ccurl_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }
static inline CURLcode ccurl_global_init_default(void) { return curl_global_init(CURL_GLOBAL_DEFAULT); }

// Names the calling thread so thread dumps (and tests) can tell the transfer thread apart. Declared here because
// glibc exposes pthread_setname_np only under _GNU_SOURCE, which the imported Glibc module is not built with.
// The kernel's id of the calling thread (/proc/self/task/<id>), or 0 where there is none to report.
#if defined(__linux__)
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>
extern int pthread_setname_np(pthread_t thread, const char *name);
static inline void ccurl_name_current_thread(const char *name) { (void)pthread_setname_np(pthread_self(), name); }
static inline long ccurl_current_thread_id(void) { return syscall(SYS_gettid); }
#else
static inline void ccurl_name_current_thread(const char *name) { (void)name; }
static inline long ccurl_current_thread_id(void) { return 0; }
#endif

// Event-driven transfers (curl_multi_socket_action over epoll). curl_multi_perform checks every transfer's socket
// on every call, a poll(2) per transfer per wake-up; with the socket API curl is told which socket is ready and
// works only on that transfer. The socket and timer callbacks live here so no Swift closure crosses into C.
#if defined(__linux__)
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>

typedef struct {
    int epfd;
    int wakefd;
    CURLM *multi;
    /// CLOCK_MONOTONIC milliseconds at which curl wants CURL_SOCKET_TIMEOUT, or -1 for no timer.
    long long deadline_ms;
} ccurl_events;

static inline long long ccurl_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int ccurl_events_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
    (void)easy;
    ccurl_events *ev = (ccurl_events *)userp;
    if (what == CURL_POLL_REMOVE) {
        if (socketp) {
            (void)epoll_ctl(ev->epfd, EPOLL_CTL_DEL, s, NULL);  // already gone if curl closed it: harmless
            curl_multi_assign(ev->multi, s, NULL);
        }
        return 0;
    }
    struct epoll_event event;
    event.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
    event.data.u64 = 0;
    event.data.fd = s;
    if (socketp) {
        if (epoll_ctl(ev->epfd, EPOLL_CTL_MOD, s, &event) == 0 || errno != ENOENT) return 0;
    }
    if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, s, &event) != 0 && errno == EEXIST) {
        (void)epoll_ctl(ev->epfd, EPOLL_CTL_MOD, s, &event);
    }
    curl_multi_assign(ev->multi, s, (void *)1);
    return 0;
}

static int ccurl_events_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
    (void)multi;
    ccurl_events *ev = (ccurl_events *)userp;
    ev->deadline_ms = timeout_ms < 0 ? -1 : ccurl_now_ms() + timeout_ms;
    return 0;
}

/// Creates the epoll set and the wake-up eventfd and installs the callbacks. Returns 0, or -1 with errno set.
static inline int ccurl_events_init(ccurl_events *ev, CURLM *multi) {
    ev->multi = multi;
    ev->deadline_ms = -1;
    ev->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ev->epfd < 0) return -1;
    ev->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ev->wakefd < 0) return -1;
    struct epoll_event event;
    event.events = EPOLLIN;
    event.data.u64 = 0;
    event.data.fd = ev->wakefd;
    if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, ev->wakefd, &event) != 0) return -1;
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, ccurl_events_socket_cb);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, ev);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, ccurl_events_timer_cb);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, ev);
    return 0;
}

/// Wakes a thread blocked in ccurl_events_run (thread-safe; an eventfd write).
static inline void ccurl_events_wake(int wakefd) {
    uint64_t one = 1;
    ssize_t n = write(wakefd, &one, sizeof one);
    (void)n;
}

/// Waits up to max_wait_ms for a ready socket, curl's timer or a wake-up, and lets curl act on what happened.
/// Returns the number of epoll events, or -1 if epoll_wait failed (other than EINTR).
static inline int ccurl_events_run(ccurl_events *ev, int max_wait_ms) {
    int wait = max_wait_ms;
    if (ev->deadline_ms >= 0) {
        long long left = ev->deadline_ms - ccurl_now_ms();
        if (left < 0) left = 0;
        if (left < wait) wait = (int)left;
    }
    struct epoll_event events[64];
    int n = epoll_wait(ev->epfd, events, 64, wait);
    if (n < 0 && errno != EINTR) return -1;
    int running = 0;
    for (int i = 0; i < n; i++) {
        int fd = events[i].data.fd;
        if (fd == ev->wakefd) {
            uint64_t count;
            ssize_t r = read(ev->wakefd, &count, sizeof count);
            (void)r;
            continue;
        }
        int flags = 0;
        if (events[i].events & EPOLLIN) flags |= CURL_CSELECT_IN;
        if (events[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
        if (events[i].events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
        curl_multi_socket_action(ev->multi, fd, flags, &running);
    }
    if (ev->deadline_ms >= 0 && ccurl_now_ms() >= ev->deadline_ms) {
        ev->deadline_ms = -1;
        curl_multi_socket_action(ev->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    return n < 0 ? 0 : n;
}

static inline void ccurl_events_close(ccurl_events *ev) {
    if (ev->epfd >= 0) close(ev->epfd);
    if (ev->wakefd >= 0) close(ev->wakefd);
    ev->epfd = -1;
    ev->wakefd = -1;
}
#endif

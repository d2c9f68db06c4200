#if canImport(Glibc)
import Glibc
#endif

/// A system call that failed: which one, on what, and its errno.
public struct SystemError: Error, Equatable, CustomStringConvertible {
    public var call: String
    public var errno: Int32
    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }
    public var description: String { "\(call): \(String(cString: strerror(errno)))" }
}

/// The system calls the kernel I/O modules share, each bound once: EINTR is retried here and
/// nowhere else, failures come back as `SystemError`, and EBADF/EFAULT (our bugs, not the
/// device's) stop the process.
public enum Sys {
    @inline(__always)
    private static func retrying(_ call: @autoclosure () -> String, _ body: () -> Int) throws(SystemError) -> Int {
        while true {
            let result = body()
            if result != -1 { return result }
            let error = Glibc.errno
            if error == EINTR { continue }
            precondition(error != EBADF && error != EFAULT, "\(call()): \(String(cString: strerror(error)))")
            throw SystemError(call: call(), errno: error)
        }
    }

    /// Opens `path` close-on-exec and non-blocking (every caller waits in `poll`).
    public static func open(_ path: String, writable: Bool = true) throws(SystemError) -> Int32 {
        let flags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK
        return Int32(try retrying("open \(path)") { Int(Glibc.open(path, flags)) })
    }

    /// Closes `fd`; after close the descriptor is gone whatever it returns, so nothing is retried.
    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    public static func ioctl<T>(_ fd: Int32, _ request: UInt, _ argument: inout T, _ name: @autoclosure () -> String) throws(SystemError) {
        _ = try retrying(name()) { Int(withUnsafeMutablePointer(to: &argument) { Glibc.ioctl(fd, request, UnsafeMutableRawPointer($0)) }) }
    }

    /// Waits for `events` on `fd`; returns the events that occurred, or 0 on timeout.
    /// The deadline is absolute, so a signal that interrupts the wait does not extend it.
    public static func poll(_ fd: Int32, events: Int16, timeoutNanoseconds: UInt64) throws(SystemError) -> Int16 {
        let deadline = monotonicNow() &+ timeoutNanoseconds
        var entry = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let now = monotonicNow()
            let remaining = deadline > now ? deadline - now : 0
            let milliseconds = Int32(min((remaining + 999_999) / 1_000_000, UInt64(Int32.max)))
            let ready = Glibc.poll(&entry, 1, milliseconds)
            if ready > 0 { return entry.revents }
            if ready == 0 { return 0 }
            if Glibc.errno != EINTR { throw SystemError(call: "poll", errno: Glibc.errno) }
        }
    }

    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        try retrying("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    public static func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws(SystemError) -> Int {
        try retrying("write") { Glibc.write(fd, buffer.baseAddress, buffer.count) }
    }

    /// Maps `length` bytes of a device at `offset`, shared and read-write.
    public static func mmap(_ fd: Int32, length: Int, offset: Int64, _ name: @autoclosure () -> String) throws(SystemError) -> UnsafeMutableRawBufferPointer {
        let address = Glibc.mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off_t(offset))
        guard let address, address != MAP_FAILED else { throw SystemError(call: name(), errno: Glibc.errno) }
        return UnsafeMutableRawBufferPointer(start: address, count: length)
    }

    public static func munmap(_ mapping: UnsafeMutableRawBufferPointer) {
        _ = Glibc.munmap(mapping.baseAddress, mapping.count)
    }

    /// Resolves symlinks (`/dev/v4l/by-id/...` -> `/dev/videoN`).
    public static func realpath(_ path: String) throws(SystemError) -> String {
        guard let resolved = Glibc.realpath(path, nil) else { throw SystemError(call: "realpath \(path)", errno: Glibc.errno) }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// CLOCK_MONOTONIC in nanoseconds: the clock V4L2 and DRM timestamp with.
    public static func monotonicNow() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Names the calling thread as `ps -L`, `top -H` and /proc/PID/task/TID/comm show it (at most 15
    /// bytes are kept). Foundation's `Thread.name` does not reach the kernel on Linux.
    public static func nameThread(_ name: String) {
        // pthread_setname_np needs _GNU_SOURCE, which Swift's Glibc module lacks; this is what it does.
        let fd = Glibc.open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        Glibc.close(fd)
    }

    /// Puts the calling thread under SCHED_FIFO at `priority` (1...99), or back under SCHED_OTHER
    /// with 0. Unprivileged processes may use real-time priorities up to RLIMIT_RTPRIO.
    public static func setRealtimePriority(_ priority: Int32) throws(SystemError) {
        var parameters = sched_param()
        parameters.sched_priority = priority
        let policy = priority > 0 ? SCHED_FIFO : SCHED_OTHER
        let result = pthread_setschedparam(pthread_self(), policy, &parameters)
        guard result == 0 else {
            throw SystemError(call: "pthread_setschedparam(\(priority > 0 ? "SCHED_FIFO, \(priority)" : "SCHED_OTHER"))", errno: result)
        }
    }

    /// Sleeps until CLOCK_MONOTONIC reaches `deadline` (absolute, so interruptions do not drift).
    public static func sleep(untilMonotonic deadline: UInt64) {
        var time = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &time, nil) == EINTR {}
    }
}

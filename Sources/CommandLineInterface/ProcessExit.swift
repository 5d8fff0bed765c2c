#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Ends the process with `status` without running exit-time destructors.
///
/// `exit()` runs the libraries' exit-time cleanup (global destructors, atexit
/// handlers: OpenSSL, which libpq loads, frees its global locks there) on the
/// calling thread while the concurrency runtime's other threads may still be
/// finishing work. A worker that had logged "worker stopped" crashed that way with
/// SIGSEGV (status 139): one thread in the global destructors, another taking a
/// read lock through a pointer the cleanup had cleared. Everything the program owns
/// is finished or released before this is called, so only C stdio's buffers need
/// flushing.
public enum ProcessExit {
    public static func now(_ status: Int32) -> Never {
        fflush(nil)
        _exit(status)
    }
}

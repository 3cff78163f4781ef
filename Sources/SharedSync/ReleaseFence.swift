import CShims
import Synchronization

/// How the shared region is cached in this process, which decides what a release must do.
public enum MemoryType: Sendable, Equatable {
    /// Ordinary write-back memory (a file, `resource2`, the server's memory): x86 keeps stores in
    /// program order, so a release store is a plain store.
    case writeBack
    /// Write-combining (`resource2_wc`): stores may leave the core's combining buffers out of order,
    /// so a flag stored after the data could become visible first. A store fence before each release
    /// drains them (AMD hosts honour the guest's page attributes, so this is real in guests).
    case writeCombining
}

/// What every release (`SharedWord.store` and `add`, so unlock, fence arrival, PSCW counters, barrier
/// words, mailbox publishes) does before its store. Chosen once per process: a process that mapped
/// any region write-combining fences every release, and write-back processes pay one load of a flag
/// that never changes and a branch that always goes the same way.
public enum ReleaseFence {
    public enum Flavor: Sendable, Equatable {
        /// A plain release store.
        case plain
        /// `sfence`, then the release store.
        case storeFence
    }

    @usableFromInline static let fencesStores = Synchronization.Atomic<Bool>(false)

    /// Call when a region is mapped, before any release into it. Never goes back to `.plain`: the
    /// process may still hold the write-combining mapping.
    public static func adopt(_ memoryType: MemoryType) {
        if memoryType == .writeCombining { fencesStores.store(true, ordering: .sequentiallyConsistent) }
    }

    public static var flavor: Flavor { fencesStores.load(ordering: .relaxed) ? .storeFence : .plain }

    /// Orders every earlier store, write-combining ones included, before the release that follows.
    @inlinable @inline(__always)
    public static func beforeRelease() {
        if fencesStores.load(ordering: .relaxed) { ivshmem_store_fence() }
    }
}

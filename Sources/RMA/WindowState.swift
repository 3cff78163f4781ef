import CMPI
import Region
import SharedSync
import Synchronization

/// The shared state each window member keeps in the region next to its window memory: the words
/// other members touch to lock, post, complete and fence. Cache-line separated so that a lock
/// taken on one rank does not slow another's fence. Zeroed by its owner before PMPI_Win_create,
/// which no member leaves before every member entered, so nobody sees it uninitialized.
enum ControlBlock {
    static let lineSize = 64
    /// SharedRWLock: MPI_Win_lock / lock_all on this member.
    static let passiveLock = 0
    /// SharedSpinLock: held while an accumulate to this member is applied.
    static let accumulateLock = 64
    /// SharedWord: MPI_Win_complete calls that reached this member (PSCW target side).
    static let completions = 128
    /// SharedWord: the last fence barrier generation this member reached.
    static let fenceArrival = 192
    /// SharedWord per member t: MPI_Win_post calls from t that named this member (PSCW origin side).
    static let posts = 256

    static func size(members: Int) -> Int { roundUp(posts + 8 * members, to: lineSize) }
}


/// One window member as seen from this rank.
struct TargetSlot {
    /// The member's window memory in this process's mapping of the region; nil when the member is
    /// not reachable through the region (another server, or its memory is private): go to MPICH.
    var data: UnsafeMutableRawPointer?
    var control: UnsafeMutableRawPointer?
    var size: Int
    var dispUnit: Int
    var worldRank: Int32
}

/// Per-target epoch flags (a bit set in `WindowState.access`).
enum Access {
    static let shared: UInt8 = 1
    static let exclusive: UInt8 = 2
    static let lockNoCheck: UInt8 = 4
    static let locked: UInt8 = shared | exclusive | lockNoCheck
    static let started: UInt8 = 8
}

/// Everything the engine knows about one window served through the region. Plain values and raw
/// pointers only, so the hot path reads it without reference counting; allocated at window
/// creation, released at MPI_Win_free.
struct WindowState {
    let handle: MPI_Win
    let rank: Int32
    let memberCount: Int32
    /// The window's group, and 0..<memberCount: together they translate PSCW groups.
    let group: MPI_Group
    let rankSequence: UnsafeMutablePointer<Int32>
    /// True when every member shares this rank's region: synchronization never touches MPICH.
    /// False in a window spanning servers: MPICH's synchronization is the one authority, and the
    /// region only carries data to reachable members.
    let regionSync: Bool
    let targets: UnsafeMutablePointer<TargetSlot>
    let control: UnsafeMutableRawPointer?
    /// Fence barrier words: each member's arrival word.
    let fenceArrivals: UnsafeMutableBufferPointer<UnsafeMutableRawPointer>
    /// The runtime's wait policy, copied here so that synchronization reads it without touching
    /// the runtime object (reference counting); the runtime is only needed to report a time-out.
    let waitPolicy: WaitPolicy
    /// Where the memory came from, to give it back.
    let memory: WindowMemory
    /// MPI_WIN_CREATE_FLAVOR as the program must read it (MPICH saw MPI_Win_create).
    var flavor = MPI_WIN_FLAVOR_ALLOCATE
    /// Dynamic windows: where each member publishes its attached region ranges (DynamicWindows.swift).
    var attachments: UnsafeMutablePointer<AttachmentTables>? = nil
    /// Windows over private memory (MPI_Win_create): mailboxes and completion state (StagedTransfer.swift).
    var staged: UnsafeMutablePointer<StagedWindow>? = nil

    // Epoch bookkeeping (this rank's view), mirrored for both kinds of window so region copies
    // are checked against the same rules MPICH applies to its own operations.
    var fenceOpen = false
    var fenceGeneration: UInt64 = 0
    var lockAll: UInt8 = 0
    var access: UnsafeMutablePointer<UInt8>
    var startedTargets: UnsafeMutablePointer<Int32>
    var startedCount = 0
    var accessStarted = false
    /// Posts from each member consumed by MPI_Win_start.
    var postsConsumed: UnsafeMutablePointer<UInt64>
    var exposureOpen = false
    var postedOrigins: UnsafeMutablePointer<Int32>
    var postedCount = 0
    var completionsExpected: UInt64 = 0

    var worldRank: Int32 { targets[Int(rank)].worldRank }
}

enum WindowMemory {
    case region(Region.Block)
    /// Private pages this library mapped for an MPI_Win_allocate member the region could not hold.
    case mapped(UnsafeMutableRawPointer, bytes: Int)
    /// Memory the program or MPICH owns (MPI_Win_create, dynamic and shared windows).
    case external
}

/// Window handle -> state (HandleIndex). Writers are window creation and free (collective,
/// rare); the hot path only reads.
enum WindowTable {
    /// nil until the first window enters: in a process whose windows all went to MPICH, a call the
    /// function table does not cover (lock, unlock, fence, PSCW) pays one load before it is handed
    /// on (scripts/overhead measures it).
    nonisolated(unsafe) private static let root = Atomic<HandleIndex.Root<WindowState>?>(nil)
    /// Serializes writers (windows created on several threads at once); readers need no lock.
    private static let writers = Mutex(())

    @inline(__always)
    static func lookup(_ handle: MPI_Win) -> UnsafeMutablePointer<WindowState>? {
        guard let root = root.load(ordering: .acquiring), let state = HandleIndex.entry(root, handle),
              state.pointee.handle == handle else { return nil }
        return state
    }

    static func insert(_ state: UnsafeMutablePointer<WindowState>) {
        writers.withLock { _ in
            let published = root.load(ordering: .relaxed)
            let table = HandleIndex.store(state, state.pointee.handle, in: published)
            // Readers may load the root at any time: they see it only once it holds this window.
            if published == nil { root.store(table, ordering: .releasing) }
        }
    }

    /// At MPI_Finalize, before the region blocks are given back. The states of windows the
    /// program never freed are not deallocated: a few hundred bytes, once per process.
    static func removeAll() {
        writers.withLock { _ in
            if let root = root.load(ordering: .relaxed) { HandleIndex.clearAll(root) }
        }
    }

    static func remove(_ handle: MPI_Win) {
        writers.withLock { _ in
            if let root = root.load(ordering: .relaxed) { _ = HandleIndex.store(nil, handle, in: root) }
        }
    }
}

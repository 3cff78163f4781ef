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
    /// SharedWord: member 0's word releases the fence barrier.
    static let fenceRelease = 256
    /// SharedWord per member t: MPI_Win_post calls from t that named this member (PSCW origin side).
    static let posts = 320

    static func size(members: Int) -> Int { roundUp(posts + 8 * members, to: lineSize) }
}

func roundUp(_ value: Int, to alignment: Int) -> Int { (value + alignment - 1) / alignment * alignment }

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
    /// Fence barrier words: each member's arrival word, and member 0's release word.
    let fenceArrivals: UnsafeMutableBufferPointer<UnsafeMutableRawPointer>
    /// Where the memory came from, to give it back.
    let memory: WindowMemory

    // Epoch bookkeeping (this rank's view), mirrored for both kinds of window so region copies
    // are checked against the same rules MPICH applies to its own operations.
    var fenceOpen = false
    var fenceGeneration: UInt64 = 0
    var lockAll: UInt8 = 0
    var lockedTargets = 0
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

}

enum WindowMemory {
    case region(Region.Block)
    case mpich(UnsafeMutableRawPointer?)
}

/// Window handle -> state, as two array indexings: MPICH's handles carry a direct/indirect bit
/// and a 26-bit index, which together select a leaf and a slot. Writers are window creation and
/// free (collective, rare); the hot path only reads.
enum WindowTable {
    private static let leafBits = 12
    private static let leafSize = 1 << leafBits
    private static let rootSize = 1 << 15
    nonisolated(unsafe) private static var root: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<WindowState>?>?>?
    /// Serializes writers (windows created on several threads at once); readers need no lock.
    private static let writers = Mutex(())

    @inline(__always)
    private static func key(_ handle: MPI_Win) -> Int {
        let bits = UInt32(bitPattern: handle)
        return Int((bits >> 30) & 1) << 26 | Int(bits & 0x03FF_FFFF)
    }

    @inline(__always)
    static func lookup(_ handle: MPI_Win) -> UnsafeMutablePointer<WindowState>? {
        guard let root else { return nil }
        let key = key(handle)
        guard let leaf = root[key >> leafBits], let state = leaf[key & (leafSize - 1)],
              state.pointee.handle == handle else { return nil }
        return state
    }

    /// Called once at MPI_Init, before any other thread can create a window.
    static func prepare() {
        guard root == nil else { return }
        let table = UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<WindowState>?>?>.allocate(capacity: rootSize)
        table.initialize(repeating: nil, count: rootSize)
        root = table
    }

    static func insert(_ state: UnsafeMutablePointer<WindowState>) {
        writers.withLock { _ in
            guard let root else { return }
            let key = key(state.pointee.handle)
            if root[key >> leafBits] == nil {
                let leaf = UnsafeMutablePointer<UnsafeMutablePointer<WindowState>?>.allocate(capacity: leafSize)
                leaf.initialize(repeating: nil, count: leafSize)
                root[key >> leafBits] = leaf
            }
            root[key >> leafBits]![key & (leafSize - 1)] = state
        }
    }

    /// At MPI_Finalize, before the region blocks are given back. The states of windows the
    /// program never freed are not deallocated: a few hundred bytes, once per process.
    static func removeAll() {
        writers.withLock { _ in
            guard let root else { return }
            for leaf in 0..<rootSize { root[leaf]?.update(repeating: nil, count: leafSize) }
        }
    }

    static func remove(_ handle: MPI_Win) {
        writers.withLock { _ in
            let key = key(handle)
            root?[key >> leafBits]?[key & (leafSize - 1)] = nil
        }
    }
}

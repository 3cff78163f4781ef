import Glibc

/// Handle -> state, as two array indexings, for the handle-indexed tables (windows,
/// communicators). MPICH's handles carry a 2-bit kind (builtin, direct, indirect) and a 26-bit
/// index, which together select a leaf and a slot. Each table keeps its own published root and
/// writer lock; these are the indexing rules they share.
enum HandleIndex {
    typealias Leaf<State> = UnsafeMutablePointer<UnsafeMutablePointer<State>?>
    typealias Root<State> = UnsafeMutablePointer<Leaf<State>?>

    private static let leafBits = 12
    private static let leafSize = 1 << leafBits
    private static let rootSize = 1 << 16

    @inline(__always)
    private static func key(_ handle: Int32) -> Int {
        let bits = UInt32(bitPattern: handle)
        return Int(bits >> 30) << 26 | Int(bits & 0x03FF_FFFF)
    }

    /// The state stored under `handle`'s slot; the caller checks that it belongs to `handle`.
    @inline(__always)
    static func entry<State>(_ root: Root<State>, _ handle: Int32) -> UnsafeMutablePointer<State>? {
        let key = key(handle)
        return root[key >> leafBits]?[key & (leafSize - 1)]
    }

    /// Stores `state` under `handle` (nil clears it) in `table`, or in a new root when `table` is
    /// nil; returns the root, for the caller to publish. Writers only, under the table's lock.
    static func store<State>(_ state: UnsafeMutablePointer<State>?, _ handle: Int32, in table: Root<State>?) -> Root<State> {
        // calloc: the root's pages are zero (nil) until a leaf is stored, and cost nothing before.
        let root = table ?? calloc(rootSize, MemoryLayout<Leaf<State>?>.stride)!.bindMemory(to: Leaf<State>?.self, capacity: rootSize)
        let key = key(handle)
        if root[key >> leafBits] == nil {
            guard state != nil else { return root }
            root[key >> leafBits] = calloc(leafSize, MemoryLayout<UnsafeMutablePointer<State>?>.stride)!
                .bindMemory(to: UnsafeMutablePointer<State>?.self, capacity: leafSize)
        }
        root[key >> leafBits]![key & (leafSize - 1)] = state
        return root
    }

    /// Clears every slot (the leaves stay allocated).
    static func clearAll<State>(_ root: Root<State>) {
        for leaf in 0..<rootSize { root[leaf]?.update(repeating: nil, count: leafSize) }
    }
}

import CMPI
import Glibc

/// The predefined reduction operators on the common predefined types, applied in place the way
/// MPICH's own `MPI_Reduce_local` applies them (target = op(target, origin), integer arithmetic
/// wrapping, MAX as `target > origin ? target : origin`), without the library call. Anything
/// else (pair types, complex, logical ops on floats, ...) is left to MPI_Reduce_local.
enum Operators {
    private enum Kind: UInt8 { case none, signed, unsigned, float }
    private struct TypeEntry { var handle: MPI_Datatype = MPI_DATATYPE_NULL; var kind = Kind.none; var size = 0 }

    /// Indexed by the low byte of the type handle, which MPICH numbers uniquely among builtins.
    nonisolated(unsafe) private static var types: UnsafeMutablePointer<TypeEntry>?

    static func prepare() {
        guard types == nil else { return }
        let table = UnsafeMutablePointer<TypeEntry>.allocate(capacity: 256)
        table.initialize(repeating: TypeEntry(), count: 256)
        // MPI_CHAR too: MPICH reduces it as a signed integer (OSU accumulates MPI_SUM over it).
        let signed = [MPI_CHAR, MPI_SIGNED_CHAR, MPI_SHORT, MPI_INT, MPI_LONG, MPI_LONG_LONG_INT,
                      MPI_INT8_T, MPI_INT16_T, MPI_INT32_T, MPI_INT64_T, MPI_AINT, MPI_OFFSET, MPI_COUNT]
        let unsigned = [MPI_UNSIGNED_CHAR, MPI_UNSIGNED_SHORT, MPI_UNSIGNED, MPI_UNSIGNED_LONG, MPI_UNSIGNED_LONG_LONG,
                        MPI_UINT8_T, MPI_UINT16_T, MPI_UINT32_T, MPI_UINT64_T]
        for (kind, handles) in [(Kind.signed, signed), (.unsigned, unsigned), (.float, [MPI_FLOAT, MPI_DOUBLE])] {
            for handle in handles {
                var size: Int32 = 0
                PMPI_Type_size(handle, &size)
                table[Int(handle & 0xff)] = TypeEntry(handle: handle, kind: kind, size: Int(size))
            }
        }
        types = table
    }

    /// Whether `apply` handles this op and type (asked with no elements, so nothing is touched).
    static func supports(_ op: MPI_Op, _ type: MPI_Datatype) -> Bool {
        var nothing: UInt64 = 0
        return withUnsafeMutableBytes(of: &nothing) { apply(op, type, target: $0.baseAddress!, origin: $0.baseAddress!, count: 0) }
    }

    /// MPICH's predefined op handles are 0x580000NN; NN below.
    private enum Op: Int32 {
        case max = 1, min, sum, prod, land, band, lor, bor, lxor, bxor, minloc, maxloc
    }

    /// Applies `op` to `count` elements of `type`; false when this type/op pair is not one of ours.
    @inline(__always)
    static func apply(_ op: MPI_Op, _ type: MPI_Datatype, target: UnsafeMutableRawPointer, origin: UnsafeRawPointer,
                      count: Int) -> Bool {
        guard let types, UInt32(bitPattern: op) >> 8 == 0x58_0000, let known = Op(rawValue: op & 0xff) else { return false }
        if known == .minloc || known == .maxloc { return valueIndexPairs(known, type, target, origin, count) }
        let entry = types[Int(type & 0xff)]
        guard entry.handle == type else { return false }
        switch (entry.kind, entry.size) {
        case (.signed, 1): return integers(known, Int8.self, target, origin, count)
        case (.signed, 2): return integers(known, Int16.self, target, origin, count)
        case (.signed, 4): return integers(known, Int32.self, target, origin, count)
        case (.signed, 8): return integers(known, Int64.self, target, origin, count)
        case (.unsigned, 1): return integers(known, UInt8.self, target, origin, count)
        case (.unsigned, 2): return integers(known, UInt16.self, target, origin, count)
        case (.unsigned, 4): return integers(known, UInt32.self, target, origin, count)
        case (.unsigned, 8): return integers(known, UInt64.self, target, origin, count)
        case (.float, 4): return floats(known, Float.self, target, origin, count)
        case (.float, 8): return floats(known, Double.self, target, origin, count)
        default: return false
        }
    }

    @inline(__always)
    private static func integers<T: FixedWidthInteger>(_ op: Op, _: T.Type, _ target: UnsafeMutableRawPointer,
                                                       _ origin: UnsafeRawPointer, _ count: Int) -> Bool {
        let combine: (T, T) -> T
        switch op {
        case .max: combine = { $0 > $1 ? $0 : $1 }
        case .min: combine = { $0 < $1 ? $0 : $1 }
        case .sum: combine = { $0 &+ $1 }
        case .prod: combine = { $0 &* $1 }
        case .land: combine = { $0 != 0 && $1 != 0 ? 1 : 0 }
        case .band: combine = { $0 & $1 }
        case .lor: combine = { $0 != 0 || $1 != 0 ? 1 : 0 }
        case .bor: combine = { $0 | $1 }
        case .lxor: combine = { ($0 != 0) != ($1 != 0) ? 1 : 0 }
        case .bxor: combine = { $0 ^ $1 }
        case .minloc, .maxloc: return false  // pairs only (valueIndexPairs)
        }
        elementwise(T.self, target, origin, count, combine)
        return true
    }

    @inline(__always)
    private static func floats<T: BinaryFloatingPoint>(_ op: Op, _: T.Type, _ target: UnsafeMutableRawPointer,
                                                       _ origin: UnsafeRawPointer, _ count: Int) -> Bool {
        let combine: (T, T) -> T
        switch op {
        case .max: combine = { $0 > $1 ? $0 : $1 }
        case .min: combine = { $0 < $1 ? $0 : $1 }
        case .sum: combine = { $0 + $1 }
        case .prod: combine = { $0 * $1 }
        default: return false
        }
        elementwise(T.self, target, origin, count, combine)
        return true
    }

    /// MINLOC/MAXLOC over (value, int index) pairs, packed as MPI packs them (the index right after
    /// the value): the smaller (MINLOC) or larger (MAXLOC) value wins, and on a tie the smaller index.
    @inline(__always)
    private static func valueIndexPairs(_ op: Op, _ type: MPI_Datatype, _ target: UnsafeMutableRawPointer,
                                        _ origin: UnsafeRawPointer, _ count: Int) -> Bool {
        let pairs = IVSHMEM_MPI_PAIR_TYPES
        switch type {
        case MPI_2INT: pairwise(op, Int32.self, target, origin, count)
        case pairs.0: pairwise(op, Float.self, target, origin, count)
        case pairs.1: pairwise(op, Double.self, target, origin, count)
        case pairs.2: pairwise(op, Int.self, target, origin, count)
        case pairs.3: pairwise(op, Int16.self, target, origin, count)
        default: return false
        }
        return true
    }

    @inline(__always)
    private static func pairwise<Value: Comparable>(_ op: Op, _: Value.Type, _ target: UnsafeMutableRawPointer,
                                                    _ origin: UnsafeRawPointer, _ count: Int) {
        let valueSize = MemoryLayout<Value>.size
        let stride = valueSize + MemoryLayout<Int32>.size
        for index in 0..<count {
            let offset = index * stride
            let mine = target.loadUnaligned(fromByteOffset: offset, as: Value.self)
            let theirs = origin.loadUnaligned(fromByteOffset: offset, as: Value.self)
            let myIndex = target.loadUnaligned(fromByteOffset: offset + valueSize, as: Int32.self)
            let theirIndex = origin.loadUnaligned(fromByteOffset: offset + valueSize, as: Int32.self)
            let theirsWins = op == .minloc ? theirs < mine : theirs > mine
            if theirsWins || (theirs == mine && theirIndex < myIndex) {
                target.storeBytes(of: theirs, toByteOffset: offset, as: Value.self)
                target.storeBytes(of: theirIndex, toByteOffset: offset + valueSize, as: Int32.self)
            }
        }
    }

    /// Window displacements need not be aligned for the element type: unaligned loads and stores.
    @inline(__always)
    private static func elementwise<T>(_: T.Type, _ target: UnsafeMutableRawPointer, _ origin: UnsafeRawPointer,
                                       _ count: Int, _ combine: (T, T) -> T) {
        let stride = MemoryLayout<T>.size
        for index in 0..<count {
            let offset = index * stride
            let value = combine(target.loadUnaligned(fromByteOffset: offset, as: T.self),
                                origin.loadUnaligned(fromByteOffset: offset, as: T.self))
            target.storeBytes(of: value, toByteOffset: offset, as: T.self)
        }
    }
}

/// Applies an accumulate's operation to a run of elements at the target: MPI_REPLACE and MPI_NO_OP
/// directly, the common type/op pairs natively, anything else through MPI_Reduce_local (which is an
/// MPI call: only from inside one, see `isNative`).
enum Combine {
    static func isNative(_ op: MPI_Op, _ element: MPI_Datatype) -> Bool {
        op == IVSHMEM_MPI_REPLACE || op == IVSHMEM_MPI_NO_OP || Operators.supports(op, element)
    }

    @discardableResult
    static func apply(_ op: MPI_Op, _ element: MPI_Datatype, target: UnsafeMutableRawPointer, origin: UnsafeRawPointer,
                      bytes: Int, elementSize: Int) -> Int32 {
        if op == IVSHMEM_MPI_NO_OP { return MPI_SUCCESS }
        if op == IVSHMEM_MPI_REPLACE {
            memcpy(target, origin, bytes)
            return MPI_SUCCESS
        }
        let count = bytes / elementSize
        if Operators.apply(op, element, target: target, origin: origin, count: count) { return MPI_SUCCESS }
        return PMPI_Reduce_local_c(origin, target, MPI_Count(count), element, op)
    }
}

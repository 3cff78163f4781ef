import CMPI

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

    /// MPICH's predefined op handles are 0x580000NN; NN below.
    private enum Op: Int32 {
        case max = 1, min, sum, prod, land, band, lor, bor, lxor, bxor
    }

    /// Applies `op` to `count` elements of `type`; false when this type/op pair is not one of ours.
    @inline(__always)
    static func apply(_ op: MPI_Op, _ type: MPI_Datatype, target: UnsafeMutableRawPointer, origin: UnsafeRawPointer,
                      count: Int) -> Bool {
        guard let types, UInt32(bitPattern: op) >> 8 == 0x58_0000, let known = Op(rawValue: op & 0xff) else { return false }
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

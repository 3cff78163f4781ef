import CMPI
import Glibc

/// Every predefined reduction operator on every predefined type MPICH accepts for it but
/// MPI_REAL16 (whose format MPICH 4.0.2 does not document: neither long double nor __float128),
/// applied in place the way MPICH's own operators apply them (target = op(target, origin), integer arithmetic
/// wrapping, MAX as `target > origin ? target : origin`, MINLOC/MAXLOC keeping the target's value
/// on a tie), with no MPI call: the progress agent applies accumulates outside MPI.
///
/// Elements are in packing order (MPI_Pack's, which is also the memory layout of a contiguous
/// type): a value-index pair is its value followed directly by its index, whatever the padding of
/// the C struct (MPI_LONG_DOUBLE_INT: 20 bytes packed, extent 32).
enum Operators {
    /// How MPICH reduces a type; which ops it takes follows from the kind (see `apply`).
    private enum Kind: UInt8 {
        case none
        /// C and Fortran integers: every op but MINLOC/MAXLOC.
        case signed, unsigned
        /// MAX, MIN, SUM, PROD. `size` 16 is long double (x87 80-bit value, 6 bytes of padding).
        case float
        /// MPI_LOGICAL, MPI_C_BOOL, MPI_CXX_BOOL: LAND, LOR, LXOR, giving 1 or 0.
        case logical
        /// MPI_BYTE: BAND, BOR, BXOR.
        case byte
        /// SUM and PROD on (real, imaginary) pairs: MPICH multiplies the Fortran and C++ complex
        /// types with the textbook formula, the C99 ones with C's `*` (Annex G infinities).
        case complex, c99Complex
    }
    private struct TypeEntry {
        var handle: MPI_Datatype = MPI_DATATYPE_NULL
        var kind = Kind.none
        var size = 0
        /// MAX and MIN compare this unsigned type as the signed one of its width, as MPICH 4.0.2
        /// does (found out at start-up, see `comparesAsSigned`).
        var ordersAsSigned = false
    }

    /// Indexed by the low byte of the type handle, which MPICH numbers uniquely among builtins.
    nonisolated(unsafe) private static var types: UnsafeMutablePointer<TypeEntry>?

    static func prepare() {
        guard types == nil else { return }
        let table = UnsafeMutablePointer<TypeEntry>.allocate(capacity: 256)
        table.initialize(repeating: TypeEntry(), count: 256)
        // MPI_CHAR and MPI_CHARACTER too: MPICH reduces them as (signed) C chars.
        let signed = [MPI_CHAR, MPI_SIGNED_CHAR, MPI_SHORT, MPI_INT, MPI_LONG, MPI_LONG_LONG_INT,
                      MPI_INT8_T, MPI_INT16_T, MPI_INT32_T, MPI_INT64_T, MPI_AINT, MPI_OFFSET, MPI_COUNT,
                      MPI_INTEGER, MPI_INTEGER1, MPI_INTEGER2, MPI_INTEGER4, MPI_INTEGER8, MPI_CHARACTER]
        let unsigned = [MPI_UNSIGNED_CHAR, MPI_UNSIGNED_SHORT, MPI_UNSIGNED, MPI_UNSIGNED_LONG, MPI_UNSIGNED_LONG_LONG,
                        MPI_UINT8_T, MPI_UINT16_T, MPI_UINT32_T, MPI_UINT64_T]
        let floats = [MPI_FLOAT, MPI_DOUBLE, MPI_LONG_DOUBLE, MPI_REAL, MPI_DOUBLE_PRECISION, MPI_REAL4, MPI_REAL8]
        let logicals = [MPI_LOGICAL, MPI_C_BOOL, MPI_CXX_BOOL]
        let complexes = [MPI_COMPLEX, MPI_DOUBLE_COMPLEX, MPI_COMPLEX8, MPI_COMPLEX16,
                         MPI_CXX_FLOAT_COMPLEX, MPI_CXX_DOUBLE_COMPLEX, MPI_CXX_LONG_DOUBLE_COMPLEX]
        let c99Complexes = [MPI_C_FLOAT_COMPLEX, MPI_C_DOUBLE_COMPLEX, MPI_C_LONG_DOUBLE_COMPLEX]
        let kinds: [(Kind, [MPI_Datatype])] = [(.signed, signed), (.unsigned, unsigned), (.float, floats), (.logical, logicals),
                                               (.byte, [MPI_BYTE]), (.complex, complexes), (.c99Complex, c99Complexes)]
        for (kind, handles) in kinds {
            for handle in handles where handle != MPI_DATATYPE_NULL {
                var size: Int32 = 0
                PMPI_Type_size(handle, &size)
                table[Int(handle & 0xff)] = TypeEntry(handle: handle, kind: kind, size: Int(size),
                                                      ordersAsSigned: kind == .unsigned && comparesAsSigned(handle, size: Int(size)))
            }
        }
        types = table
    }

    /// Whether this MPICH's MPI_MAX finds 1 larger than 0x80... in an unsigned type of `size` bytes.
    private static func comparesAsSigned(_ type: MPI_Datatype, size: Int) -> Bool {
        var highBitSet: UInt64 = 1 << (size * 8 - 1), one: UInt64 = 1
        let max = MPI_Op(bitPattern: 0x5800_0000 | UInt32(Op.max.rawValue))
        guard PMPI_Reduce_local(&highBitSet, &one, 1, type, max) == MPI_SUCCESS else { return false }
        return one == 1
    }

    /// Whether `apply` takes this op and type (asked with no elements, so nothing is touched).
    static func supports(_ op: MPI_Op, _ type: MPI_Datatype) -> Bool {
        var nothing: UInt64 = 0
        return withUnsafeMutableBytes(of: &nothing) { apply(op, type, target: $0.baseAddress!, origin: $0.baseAddress!, count: 0) }
    }

    /// MPICH's predefined op handles are 0x580000NN; NN below.
    private enum Op: Int32 {
        case max = 1, min, sum, prod, land, band, lor, bor, lxor, bxor, minloc, maxloc
    }

    /// Applies `op` to `count` elements of `type`; false when MPICH does not define this op on this type.
    @inline(__always)
    static func apply(_ op: MPI_Op, _ type: MPI_Datatype, target: UnsafeMutableRawPointer, origin: UnsafeRawPointer,
                      count: Int) -> Bool {
        guard let types, UInt32(bitPattern: op) >> 8 == 0x58_0000, let known = Op(rawValue: op & 0xff) else { return false }
        if known == .minloc || known == .maxloc { return valueIndexPairs(known, type, target, origin, count) }
        let entry = types[Int(type & 0xff)]
        guard entry.handle == type else { return false }
        switch (entry.kind, entry.size) {
        case (.signed, _): return apply(known, signedOfSize: entry.size, target, origin, count)
        case (.unsigned, _) where entry.ordersAsSigned && (known == .max || known == .min):
            return apply(known, signedOfSize: entry.size, target, origin, count)
        case (.unsigned, 1), (.byte, 1):
            guard entry.kind == .unsigned || known == .band || known == .bor || known == .bxor else { return false }
            return integers(known, UInt8.self, target, origin, count)
        case (.unsigned, 2): return integers(known, UInt16.self, target, origin, count)
        case (.unsigned, 4): return integers(known, UInt32.self, target, origin, count)
        case (.unsigned, 8): return integers(known, UInt64.self, target, origin, count)
        case (.float, 4): return floats(known, Float.self, target, origin, count)
        case (.float, 8): return floats(known, Double.self, target, origin, count)
        case (.float, 16): return floats(known, Float80.self, target, origin, count)
        case (.logical, 1): return logicals(known, UInt8.self, target, origin, count)
        case (.logical, 4): return logicals(known, Int32.self, target, origin, count)
        case (.complex, 8), (.c99Complex, 8): return complexes(known, Float.self, c99: entry.kind == .c99Complex, target, origin, count)
        case (.complex, 16), (.c99Complex, 16): return complexes(known, Double.self, c99: entry.kind == .c99Complex, target, origin, count)
        case (.complex, 32), (.c99Complex, 32): return complexes(known, Float80.self, c99: entry.kind == .c99Complex, target, origin, count)
        default: return false
        }
    }

    @inline(__always)
    private static func apply(_ op: Op, signedOfSize size: Int, _ target: UnsafeMutableRawPointer, _ origin: UnsafeRawPointer,
                              _ count: Int) -> Bool {
        switch size {
        case 1: return integers(op, Int8.self, target, origin, count)
        case 2: return integers(op, Int16.self, target, origin, count)
        case 4: return integers(op, Int32.self, target, origin, count)
        case 8: return integers(op, Int64.self, target, origin, count)
        default: return false
        }
    }

    // Each case passes its own closure literal to `elementwise`, so the loop is specialized for
    // the operation (and vectorized), not an indirect call per element.
    @inline(__always)
    private static func integers<T: FixedWidthInteger>(_ op: Op, _: T.Type, _ target: UnsafeMutableRawPointer,
                                                       _ origin: UnsafeRawPointer, _ count: Int) -> Bool {
        switch op {
        case .max: elementwise(T.self, target, origin, count) { $0 > $1 ? $0 : $1 }
        case .min: elementwise(T.self, target, origin, count) { $0 < $1 ? $0 : $1 }
        case .sum: elementwise(T.self, target, origin, count) { $0 &+ $1 }
        case .prod: elementwise(T.self, target, origin, count) { $0 &* $1 }
        case .band: elementwise(T.self, target, origin, count) { $0 & $1 }
        case .bor: elementwise(T.self, target, origin, count) { $0 | $1 }
        case .bxor: elementwise(T.self, target, origin, count) { $0 ^ $1 }
        case .land, .lor, .lxor: return logicals(op, T.self, target, origin, count)
        case .minloc, .maxloc: return false  // pairs only (valueIndexPairs)
        }
        return true
    }

    /// C's `&&`, `||` and `!a != !b`: 1 or 0, in the element's own width.
    @inline(__always)
    private static func logicals<T: FixedWidthInteger>(_ op: Op, _: T.Type, _ target: UnsafeMutableRawPointer,
                                                       _ origin: UnsafeRawPointer, _ count: Int) -> Bool {
        switch op {
        case .land: elementwise(T.self, target, origin, count) { $0 != 0 && $1 != 0 ? 1 : 0 }
        case .lor: elementwise(T.self, target, origin, count) { $0 != 0 || $1 != 0 ? 1 : 0 }
        case .lxor: elementwise(T.self, target, origin, count) { ($0 != 0) != ($1 != 0) ? 1 : 0 }
        default: return false
        }
        return true
    }

    @inline(__always)
    private static func floats<T: BinaryFloatingPoint>(_ op: Op, _: T.Type, _ target: UnsafeMutableRawPointer,
                                                       _ origin: UnsafeRawPointer, _ count: Int) -> Bool {
        switch op {
        case .max: elementwise(T.self, target, origin, count) { $0 > $1 ? $0 : $1 }
        case .min: elementwise(T.self, target, origin, count) { $0 < $1 ? $0 : $1 }
        case .sum: elementwise(T.self, target, origin, count) { $0 + $1 }
        case .prod: elementwise(T.self, target, origin, count) { $0 * $1 }
        default: return false
        }
        return true
    }

    private struct Complex<Part: BinaryFloatingPoint> { var re: Part; var im: Part }

    @inline(__always)
    private static func complexes<Part: BinaryFloatingPoint>(_ op: Op, _: Part.Type, c99: Bool,
                                                             _ target: UnsafeMutableRawPointer, _ origin: UnsafeRawPointer,
                                                             _ count: Int) -> Bool {
        let partStride = slot(Part.self)
        for index in 0..<count {
            let at = index * 2 * partStride
            let a = Complex(re: load(Part.self, target, at), im: load(Part.self, target, at + partStride))
            let b = Complex(re: load(Part.self, origin, at), im: load(Part.self, origin, at + partStride))
            let value: Complex<Part>
            switch op {
            case .sum: value = Complex(re: a.re + b.re, im: a.im + b.im)
            case .prod: value = c99 ? annexGProduct(a, b) : Complex(re: a.re * b.re - a.im * b.im, im: a.im * b.re + a.re * b.im)
            default: return false
            }
            store(value.re, target, at)
            store(value.im, target, at + partStride)
        }
        return true
    }

    /// C99's complex `*` as GCC compiles it (the product, and when both parts come out NaN, the
    /// infinity recovery of C11 Annex G.5.1, libgcc's __mulsc3/__muldc3/__mulxc3).
    @inline(__always)
    private static func annexGProduct<Part: BinaryFloatingPoint>(_ x: Complex<Part>, _ y: Complex<Part>) -> Complex<Part> {
        var (a, b, c, d) = (x.re, x.im, y.re, y.im)
        let (ac, bd, ad, bc) = (a * c, b * d, a * d, b * c)
        let product = Complex(re: ac - bd, im: ad + bc)
        guard product.re.isNaN && product.im.isNaN else { return product }
        func box(_ value: Part) -> Part { Part(signOf: value, magnitudeOf: value.isInfinite ? 1 : 0) }
        func zeroIfNaN(_ value: inout Part) { if value.isNaN { value = Part(signOf: value, magnitudeOf: 0) } }
        var recalculate = false
        if a.isInfinite || b.isInfinite {
            (a, b) = (box(a), box(b))
            zeroIfNaN(&c); zeroIfNaN(&d)
            recalculate = true
        }
        if c.isInfinite || d.isInfinite {
            (c, d) = (box(c), box(d))
            zeroIfNaN(&a); zeroIfNaN(&b)
            recalculate = true
        }
        if !recalculate && (ac.isInfinite || bd.isInfinite || ad.isInfinite || bc.isInfinite) {
            zeroIfNaN(&a); zeroIfNaN(&b); zeroIfNaN(&c); zeroIfNaN(&d)
            recalculate = true
        }
        guard recalculate else { return product }
        return Complex(re: .infinity * (a * c - b * d), im: .infinity * (a * d + b * c))
    }

    /// MINLOC/MAXLOC as MPICH applies them: when the origin's value wins (smaller for MINLOC,
    /// larger for MAXLOC) its value and index replace the target's; when the values compare equal
    /// the target keeps its value and takes the smaller index. The pair types of MPI_2INT,
    /// MPI_2INTEGER, MPI_2REAL, MPI_2DOUBLE_PRECISION have an index of the value's type.
    @inline(__always)
    private static func valueIndexPairs(_ op: Op, _ type: MPI_Datatype, _ target: UnsafeMutableRawPointer,
                                        _ origin: UnsafeRawPointer, _ count: Int) -> Bool {
        let pairs = IVSHMEM_MPI_PAIR_TYPES
        switch type {
        case MPI_2INT, MPI_2INTEGER: pairwise(op, Int32.self, Int32.self, target, origin, count)
        case MPI_2REAL: pairwise(op, Float.self, Float.self, target, origin, count)
        case MPI_2DOUBLE_PRECISION: pairwise(op, Double.self, Double.self, target, origin, count)
        case pairs.0: pairwise(op, Float.self, Int32.self, target, origin, count)
        case pairs.1: pairwise(op, Double.self, Int32.self, target, origin, count)
        case pairs.2: pairwise(op, Int.self, Int32.self, target, origin, count)
        case pairs.3: pairwise(op, Int16.self, Int32.self, target, origin, count)
        case pairs.4: pairwise(op, Float80.self, Int32.self, target, origin, count)
        default: return false
        }
        return true
    }

    @inline(__always)
    private static func pairwise<Value: Comparable, Index: Comparable>(_ op: Op, _: Value.Type, _: Index.Type,
                                                                        _ target: UnsafeMutableRawPointer,
                                                                        _ origin: UnsafeRawPointer, _ count: Int) {
        let valueSize = slot(Value.self)
        let stride = valueSize + MemoryLayout<Index>.size
        for index in 0..<count {
            let offset = index * stride
            let mine = load(Value.self, target, offset), theirs = load(Value.self, origin, offset)
            let myIndex = load(Index.self, target, offset + valueSize)
            let theirIndex = load(Index.self, origin, offset + valueSize)
            if op == .minloc ? mine > theirs : mine < theirs {
                store(theirs, target, offset)
                store(theirIndex, target, offset + valueSize)
            } else if mine == theirs && theirIndex < myIndex {
                store(theirIndex, target, offset + valueSize)
            }
        }
    }

    /// Window displacements need not be aligned for the element type: unaligned loads and stores.
    @inline(__always)
    private static func elementwise<T>(_: T.Type, _ target: UnsafeMutableRawPointer, _ origin: UnsafeRawPointer,
                                       _ count: Int, _ combine: (T, T) -> T) {
        let stride = slot(T.self)
        for index in 0..<count {
            let offset = index * stride
            store(combine(load(T.self, target, offset), load(T.self, origin, offset)), target, offset)
        }
    }

    /// Bytes one value takes in memory (a long double: 16).
    @inline(__always)
    private static func slot<T>(_: T.Type) -> Int { MemoryLayout<T>.size }

    @inline(__always)
    private static func load<T>(_: T.Type, _ base: UnsafeRawPointer, _ offset: Int) -> T {
        base.loadUnaligned(fromByteOffset: offset, as: T.self)
    }

    /// A long double's value is its first 10 bytes; C stores only those, leaving the padding as it was.
    @inline(__always)
    private static func store<T>(_ value: T, _ base: UnsafeMutableRawPointer, _ offset: Int) {
        if T.self == Float80.self {
            withUnsafeBytes(of: value) { (base + offset).copyMemory(from: $0.baseAddress!, byteCount: 10) }
        } else {
            base.storeBytes(of: value, toByteOffset: offset, as: T.self)
        }
    }
}

/// Applies an accumulate's operation to a run of elements at the target: MPI_REPLACE and MPI_NO_OP
/// directly, the predefined ops natively (Operators), anything else (MPI_REAL16, an op MPICH does
/// not define on the type) through MPI_Reduce_local, which is an MPI call: only from inside one,
/// see `isNative`. Its error, if any, is MPICH's.
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

import CMPI

/// How a datatype lays out bytes, as far as moving `count` elements needs to know.
struct TypeShape {
    /// Bytes of data in one element.
    var size: Int
    var extent: Int
    var trueLowerBound: Int
    var trueExtent: Int
    /// One element is `size` gap-free bytes starting at offset 0, and elements follow each other:
    /// a run of elements can be moved with one memcpy.
    var contiguous: Bool

    /// Bytes of data in `count` (>= 0) elements; nil when that overflows.
    @inline(__always)
    func bytes(count: Int) -> Int? {
        let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
        return overflow ? nil : bytes
    }

    /// Whether `buffer` can hold elements of this type: any address, and also nil (MPI_BOTTOM is
    /// NULL in MPICH) when the type's data does not start at the buffer address, as with absolute
    /// addresses from MPI_Get_address. Nil with data at offset 0 is MPICH's MPI_ERR_BUFFER.
    @inline(__always)
    func canAddress(_ buffer: UnsafeRawPointer?) -> Bool { buffer != nil || trueLowerBound != 0 }

    /// Bytes from the buffer address touched by `count` elements: [lower, upper).
    func span(count: Int) -> (lower: Int, upper: Int)? {
        guard count > 0 else { return (0, 0) }
        if contiguous {
            let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
            return overflow ? nil : (0, bytes)
        }
        let (stride, overflow) = (count - 1).multipliedReportingOverflow(by: extent)
        guard !overflow else { return nil }
        return (trueLowerBound + min(0, stride), trueLowerBound + trueExtent + max(0, stride))
    }
}

enum Datatypes {
    /// MPICH encodes predefined "builtin" datatypes as handles of kind 1 with the element size in
    /// bits 8-15 (mpi.h: MPI_INT is 0x4c000405): decoding it spares a library call on the hot path.
    /// `verifyHandleEncoding` checks the assumption against MPICH at start-up.
    nonisolated(unsafe) static var decodeBuiltins = true

    @inline(__always)
    static func builtinSize(_ type: MPI_Datatype) -> Int? {
        let bits = UInt32(bitPattern: type)
        guard decodeBuiltins, bits >> 30 == 1 else { return nil }
        let size = Int((bits >> 8) & 0xff)
        return size > 0 ? size : nil
    }

    static func verifyHandleEncoding() {
        for type in [MPI_CHAR, MPI_BYTE, MPI_SHORT, MPI_INT, MPI_LONG, MPI_DOUBLE, MPI_LONG_DOUBLE, MPI_UINT64_T, MPI_2INT] {
            var size: Int32 = 0
            PMPI_Type_size(type, &size)
            if builtinSize(type) != Int(size) { decodeBuiltins = false }
        }
        let pairs = IVSHMEM_MPI_PAIR_TYPES
        pairSizes = [pairs.0, pairs.1, pairs.2, pairs.3, pairs.4].map { type in
            var size: Int32 = 0
            PMPI_Type_size(type, &size)
            return (type, Int(size))
        }
    }

    /// The value-index pair types of MINLOC/MAXLOC, which MPICH does not encode as builtins.
    nonisolated(unsafe) private static var pairSizes: [(MPI_Datatype, Int)] = []

    /// The size of a predefined datatype, nil for any other handle: a handle read from the region
    /// is only used once this says it names a type every process knows.
    static func predefinedSize(_ type: MPI_Datatype) -> Int? {
        builtinSize(type) ?? pairSizes.first { $0.0 == type }?.1
    }

    @inline(__always)
    static func shape(of type: MPI_Datatype) -> TypeShape? {
        if let size = builtinSize(type) {
            return TypeShape(size: size, extent: size, trueLowerBound: 0, trueExtent: size, contiguous: true)
        }
        return derivedShape(of: type)
    }

    /// Nil for MPI_DATATYPE_NULL without asking MPICH, whose answer would be a fatal error where
    /// MPI lets a call of no elements name it.
    private static func derivedShape(of type: MPI_Datatype) -> TypeShape? {
        guard type != MPI_DATATYPE_NULL else { return nil }
        var size: MPI_Count = 0
        var lowerBound: MPI_Count = 0, extent: MPI_Count = 0
        var trueLowerBound: MPI_Count = 0, trueExtent: MPI_Count = 0
        guard PMPI_Type_size_x(type, &size) == MPI_SUCCESS,
              PMPI_Type_get_extent_x(type, &lowerBound, &extent) == MPI_SUCCESS,
              PMPI_Type_get_true_extent_x(type, &trueLowerBound, &trueExtent) == MPI_SUCCESS else { return nil }
        let gapFree = size == extent && size == trueExtent && lowerBound == 0 && trueLowerBound == 0
        return TypeShape(size: Int(size), extent: Int(extent), trueLowerBound: Int(trueLowerBound),
                         trueExtent: Int(trueExtent), contiguous: gapFree && isSimpleRun(type))
    }

    /// Contiguous by construction: a named type, or contiguous/dup of one. Anything built another
    /// way is packed, which is always right (a struct can be gap-free yet overlap itself).
    private static func isSimpleRun(_ type: MPI_Datatype) -> Bool {
        let envelope = Envelope(type)
        switch envelope.combiner {
        case Combiner.named:
            return true
        case Combiner.contiguous, Combiner.dup:
            guard let inner = envelope.contents().types.first else { return false }
            defer { freeIfDerived(inner) }
            return isSimpleRun(inner)
        default:
            return false
        }
    }

    /// The one predefined type all elements of `type` are made of (what accumulate applies its
    /// operation to), or nil when they mix types.
    static func elementType(of type: MPI_Datatype) -> MPI_Datatype? {
        if builtinSize(type) != nil { return type }
        let envelope = Envelope(type)
        if envelope.combiner == Combiner.named { return type }
        let contents = envelope.contents()
        defer { contents.types.forEach(freeIfDerived) }
        var element: MPI_Datatype?
        for inner in contents.types {
            guard let innerElement = elementType(of: inner), element == nil || element == innerElement else { return nil }
            element = innerElement
        }
        return element
    }

    private static func freeIfDerived(_ type: MPI_Datatype) {
        if Envelope(type).combiner != Combiner.named {
            var handle = type
            PMPI_Type_free(&handle)
        }
    }

    private enum Combiner {
        static let named = Int32(MPI_COMBINER_NAMED.rawValue)
        static let contiguous = Int32(MPI_COMBINER_CONTIGUOUS.rawValue)
        static let dup = Int32(MPI_COMBINER_DUP.rawValue)
    }

    private struct Envelope {
        let type: MPI_Datatype
        var integers: Int32 = 0, addresses: Int32 = 0, types: Int32 = 0, combiner: Int32 = Combiner.named

        init(_ type: MPI_Datatype) {
            self.type = type
            PMPI_Type_get_envelope(type, &integers, &addresses, &types, &combiner)
        }

        func contents() -> (integers: [Int32], types: [MPI_Datatype]) {
            var integerArgs = [Int32](repeating: 0, count: Int(integers))
            var addressArgs = [MPI_Aint](repeating: 0, count: Int(addresses))
            var typeArgs = [MPI_Datatype](repeating: 0, count: Int(types))
            PMPI_Type_get_contents(type, integers, addresses, types, &integerArgs, &addressArgs, &typeArgs)
            return (integerArgs, typeArgs)
        }
    }

    /// `body(buffer, type)` where MPI_Pack or MPI_Unpack may take `buffer`: MPICH 4.0.2's refuse
    /// MPI_BOTTOM (NULL), so there `type`'s absolute addresses are reached from one byte past it
    /// through the type shifted one byte back (made for this call only).
    static func addressable(_ buffer: UnsafeMutableRawPointer?, _ type: MPI_Datatype,
                            _ body: (UnsafeMutableRawPointer, MPI_Datatype) -> Int32) -> Int32 {
        if let buffer { return body(buffer, type) }
        var displacement: MPI_Count = -1
        var shifted = MPI_DATATYPE_NULL
        guard PMPI_Type_create_hindexed_block_c(1, 1, &displacement, type, &shifted) == MPI_SUCCESS,
              PMPI_Type_commit(&shifted) == MPI_SUCCESS else { return MPI_ERR_TYPE }
        defer { PMPI_Type_free(&shifted) }
        return body(UnsafeMutableRawPointer(bitPattern: 1)!, shifted)
    }
}

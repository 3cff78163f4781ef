import CMPI
import SharedSync

/// One contiguous range of a target's window, in bytes from its start.
struct Segment: Equatable {
    var offset: Int
    var length: Int
}


/// The element types a staged accumulate may name. A record carries an index into this table,
/// which every process builds alike from MPI's own constants, so the target never decodes the
/// bits of a handle (`Datatypes.predefinedSize` does, and is off when MPICH's encoding differs).
enum PredefinedTypes {
    struct Entry {
        let type: MPI_Datatype
        let size: Int
    }

    /// Built once, on first use (a staged accumulate), from inside an MPI call.
    static let table: [Entry] = {
        let pairs = IVSHMEM_MPI_PAIR_TYPES
        // Every predefined type MPI allows in an accumulate (MPI 4.0, 6.9.2), C and Fortran.
        let types = [
            MPI_CHAR, MPI_SIGNED_CHAR, MPI_UNSIGNED_CHAR, MPI_BYTE, MPI_WCHAR, MPI_SHORT, MPI_UNSIGNED_SHORT, MPI_INT,
            MPI_UNSIGNED, MPI_LONG, MPI_UNSIGNED_LONG, MPI_LONG_LONG_INT, MPI_UNSIGNED_LONG_LONG, MPI_FLOAT, MPI_DOUBLE,
            MPI_LONG_DOUBLE, MPI_INT8_T, MPI_INT16_T, MPI_INT32_T, MPI_INT64_T, MPI_UINT8_T, MPI_UINT16_T, MPI_UINT32_T,
            MPI_UINT64_T, MPI_C_BOOL, MPI_C_FLOAT_COMPLEX, MPI_C_DOUBLE_COMPLEX, MPI_C_LONG_DOUBLE_COMPLEX, MPI_AINT,
            MPI_OFFSET, MPI_COUNT, MPI_2INT, pairs.0, pairs.1, pairs.2, pairs.3, pairs.4,
            MPI_CHARACTER, MPI_INTEGER, MPI_INTEGER1, MPI_INTEGER2, MPI_INTEGER4, MPI_INTEGER8, MPI_INTEGER16,
            MPI_REAL, MPI_DOUBLE_PRECISION, MPI_REAL4, MPI_REAL8, MPI_REAL16, MPI_LOGICAL,
            MPI_COMPLEX, MPI_DOUBLE_COMPLEX, MPI_COMPLEX8, MPI_COMPLEX16, MPI_COMPLEX32,
            MPI_2INTEGER, MPI_2REAL, MPI_2DOUBLE_PRECISION,
            MPI_CXX_BOOL, MPI_CXX_FLOAT_COMPLEX, MPI_CXX_DOUBLE_COMPLEX, MPI_CXX_LONG_DOUBLE_COMPLEX,
        ]
        return types.compactMap { type in
            var size: Int32 = 0
            guard type != MPI_DATATYPE_NULL, PMPI_Type_size(type, &size) == MPI_SUCCESS, size > 0 else { return nil }
            return Entry(type: type, size: Int(size))
        }
    }()

    /// The index a record carries for `type`, nil when it is not in the table.
    static func index(of type: MPI_Datatype) -> UInt32? {
        table.firstIndex { $0.type == type }.map { UInt32($0) }
    }

    /// The entry a record's index names (a word from the region: any value is safe to pass).
    static func entry(at index: UInt64) -> Entry? {
        index < UInt64(table.count) ? table[Int(index)] : nil
    }
}

/// Why the region could not be mapped, attached or used: one line naming the region and the reason.
public struct RegionError: Error, CustomStringConvertible, Equatable {
    public let description: String

    init(_ description: String) { self.description = description }
}

extension UInt64 {
    /// "0x" and 16 hex digits, for words read from the region in messages.
    var hexWord: String { "0x" + hexDigits }

    /// Exactly 16 lowercase hex digits.
    var hexDigits: String {
        let digits = String(self, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

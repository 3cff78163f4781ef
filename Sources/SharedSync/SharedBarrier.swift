/// A barrier among `participants` processes over shared words: each participant publishes the
/// generation it reached in its own word, then waits until every word reached it. No contended
/// counter and no release round: a barrier costs one cache-line transfer between participants,
/// where a gather-then-release by one of them costs two (OSU fence latency, 2 ranks, one run:
/// 0.59 us with the release, 0.45 us without), and a time-out can name who is missing.
/// Generations start at 1 and grow by one per barrier; every participant counts them itself.
public struct SharedBarrier {
    @usableFromInline let arrivals: UnsafeBufferPointer<UnsafeMutableRawPointer>

    /// `arrivals[i]` is participant i's word, written only by it. The buffer must outlive the barrier.
    @inlinable
    public init(arrivals: UnsafeBufferPointer<UnsafeMutableRawPointer>) {
        self.arrivals = arrivals
    }

    public enum Outcome: Equatable {
        case passed
        /// The deadline passed; the participants that had not arrived.
        case timedOut(missing: [Int])
    }

    /// Arrives at barrier `generation` as `participant` and waits for everyone.
    /// Arrival publishes with release ordering and passing acquires every other arrival, so every
    /// store a participant made before arriving is visible to every participant after passing. A
    /// participant already at a later generation has passed this one. `whileWaiting` runs between
    /// checks: work others may need from us before they can arrive.
    @inlinable
    public func arrive(participant: Int, generation: UInt64, _ policy: WaitPolicy,
                       whileWaiting: () -> Void = {}) -> Outcome {
        SharedWord(at: arrivals[participant]).store(generation)
        let everyone = waitUntil(policy) {
            whileWaiting()
            for word in arrivals where SharedWord(at: word).load() < generation { return false }
            return true
        }
        return everyone ? .passed : .timedOut(missing: missing(generation))
    }

    /// Participants whose arrival word is below `generation`; for a time-out message.
    public func missing(_ generation: UInt64) -> [Int] {
        arrivals.indices.filter { SharedWord(at: arrivals[$0]).load() < generation }
    }
}

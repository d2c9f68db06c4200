import Foundation

/// A bounded first-in first-out hand-over between two of the converter's threads: whatever is
/// sent belongs to the receiver from then on. `close` ends the stream (the receiver drains what
/// is left, then gets nil); `cancel` wakes and stops both sides at once, so a stage that fails
/// never leaves another waiting for it.
final class HandOff<Element>: @unchecked Sendable {
    private let condition = NSCondition()
    private let capacity: Int
    private var items: [Element]
    private var closed = false
    private var cancelled = false

    /// Room for `capacity` items; `initial` (at most that many) are queued already (a free list).
    init(capacity: Int, initial: [Element] = []) {
        precondition(capacity > 0 && initial.count <= capacity, "a hand-over holds 1...capacity items")
        self.capacity = capacity
        items = initial
        items.reserveCapacity(capacity)
    }

    /// Waits for room, then queues `item`.
    func send(_ item: Element) throws {
        condition.lock()
        defer { condition.unlock() }
        while items.count >= capacity && !cancelled { condition.wait() }
        if cancelled { throw HandOffCancelled() }
        precondition(!closed, "send after close")
        items.append(item)
        condition.broadcast()
    }

    /// The oldest item, once there is one; nil when the stream is closed and drained.
    func receive() throws -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !closed && !cancelled { condition.wait() }
        if cancelled { throw HandOffCancelled() }
        guard !items.isEmpty else { return nil }
        let item = items.removeFirst()
        condition.broadcast()
        return item
    }

    func close() {
        condition.withLock { closed = true }
        condition.broadcast()
    }

    func cancel() {
        condition.withLock { cancelled = true }
        condition.broadcast()
    }
}

/// What a hand-over throws once cancelled: another stage failed, and its error is the one to report.
struct HandOffCancelled: Error {}

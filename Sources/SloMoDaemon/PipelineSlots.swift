import Foundation
import Logging
import SloMoCore
import SloMoGPU
import SloMoInterp
import SloMoNeural

/// The slot queue between the engine and the output clock. Called under `state`.
extension Pipeline {
    /// Adds a slot, dropping queued slots it overtakes (the delay shrank). Called under the lock.
    func enqueue(_ slot: ScheduledSlot) {
        while let last = slots.last, last.time >= slot.time {
            slots.removeLast()
            release(last)
            stats.droppedSlots += 1
        }
        pool.retain(slot.real)
        slots.append(slot)
        nextSlotID += 1
    }

    func slotIndex(_ id: UInt64) -> Int? {
        slots.lastIndex { $0.id == id }
    }

    /// Copies a synthesised frame into a pool buffer and hands it to its slot. False when the
    /// slot has already been shown (the frame is late) or no buffer was free.
    func publish(_ frame: UnsafeRawBufferPointer, to id: UInt64) -> Bool {
        state.lock()
        guard slotIndex(id) != nil, let buffer = pool.acquire() else {
            if let index = slotIndex(id) { slots[index].pending = false }
            state.unlock()
            return false
        }
        state.unlock()
        pool[buffer].copyMemory(from: frame)
        state.lock()
        defer { state.unlock() }
        guard let index = slotIndex(id) else {
            pool.release(buffer)
            return false
        }
        slots[index].synthesised = buffer
        state.broadcast()
        return true
    }

    func release(_ slot: ScheduledSlot) {
        pool.release(slot.real)
        if let synthesised = slot.synthesised { pool.release(synthesised) }
    }
}

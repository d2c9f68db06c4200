import Foundation
import Logging
import SloMoCore
import SloMoGPU
import SloMoInterp
import SloMoLinux
import SloMoNeural

/// Where a network the settings ask for stands: `status` shows it.
public struct NetworkLoad: Equatable, Sendable {
    public enum State: Equatable, Sendable {
        case loading
        /// Built and handed to the engine, which climbs to it when its cost fits.
        case ready
        case failed(String)
    }

    public var source: NeuralSource
    public var state: State
    /// From the request to the network's hand-over (or its failure).
    public var seconds: Double?

    public var stateName: String {
        switch state {
        case .loading: return "loading"
        case .ready: return "ready"
        case .failed: return "failed"
        }
    }
}

/// Networks load on a thread of their own: reading the weights, uploading them, recording the
/// network and timing it take from a fraction of a second to several (RIFE on lavapipe), and
/// neither the control socket, the watchdog nor the frame path waits for them. Until the network
/// is handed over, the engine runs below it (`apply` caps the ceiling); the hand-over is an
/// assignment between two pairs. Each GPU sequence records in a command pool of its own, so the
/// loader and the engine record at once.
extension Pipeline {
    /// Loads the network `wanted` unless it is built or on its way (one that failed is tried again:
    /// each call is a user's request). Returns whether a load began. Called under `state`.
    func requestNetwork(_ wanted: NeuralSource?) -> Bool {
        guard let wanted else { return false }
        if wanted == neuralLoaded || wanted == networkDelivery?.source { return false }
        if networkStatus?.source == wanted, networkStatus?.state == .loading { return false }
        networkRequestedAt = MonotonicClock.now()
        networkStatus = NetworkLoad(source: wanted, state: .loading)
        logger.notice("loading \(wanted)")
        if loaderRunning { return true }
        loaderRunning = true
        loaderFinished.enter()
        let thread = Thread { [self] in
            Sys.nameThread("slomod-network")
            loadNetworks()
            loaderFinished.leave()
        }
        thread.start()
        return true
    }

    private func loadNetworks() {
        while true {
            state.lock()
            let wanted = requested.neuralSource
            guard !engineStopping, failure == nil, let wanted, networkStatus?.source == wanted,
                  networkStatus?.state == .loading else {
                loaderRunning = false
                state.unlock()
                return
            }
            let mode = requested.mode.rawValue
            let ratio = (try? Pipeline.ratio(for: requested, input: inputRate)) ?? SlotRatio(scale: 2)
            let budget = nominalBudget(ratio: ratio, delay: Pipeline.boundDelay(for: requested.latencyBoundMilliseconds))
            state.unlock()

            let result = Result { () throws -> NetworkDelivery in
                let weights = try NeuralWeights.load(wanted, mode: mode)
                let cost = try timeNetworkOnATwin(weights, ratio: ratio, budget: budget)
                let synthesizer = try weights.makeSynthesizer(context: context, format: format, maxSteps: Pipeline.maxSteps)
                return NetworkDelivery(source: wanted, synthesizer: synthesizer, milliseconds: cost)
            }

            state.lock()
            guard networkStatus?.source == wanted else {
                // The settings asked for another network meanwhile: that one is next.
                state.unlock()
                continue
            }
            let seconds = Double(MonotonicClock.now() - networkRequestedAt) / 1e9
            switch result {
            case let .success(delivery):
                networkDelivery = delivery
                networkStatus = NetworkLoad(source: wanted, state: .ready, seconds: seconds)
                logger.notice("loaded \(wanted) in \(String(format: "%.1f", seconds)) s; \(delivery.milliseconds.map { String(format: "%.1f ms a pair", $0) } ?? "cost not measured")")
            case let .failure(error):
                let reason = error is NeuralLoadError ? "\(error)" : "\(NeuralLoadError(mode: mode, reason: "\(error)"))"
                networkStatus = NetworkLoad(source: wanted, state: .failed(reason), seconds: seconds)
                logger.error("\(reason); staying below it")
            }
            state.broadcast()
            state.unlock()
        }
    }

    /// Times the network on the engine's device opened a second time (`GPUContext.twin`), then lets
    /// that copy go. On the engine's own queue the timing runs would hold up its pairs, and lavapipe
    /// compiles each shader when it first runs, on the queue's thread: on a cold shader cache RIFE
    /// 4.25 held the engine for 32 s at 640×360 (964 input frames dropped). On the twin's queue the
    /// compile fills Mesa's disk cache, which the engine's device reads when it first runs the network.
    private func timeNetworkOnATwin(_ weights: NeuralWeights, ratio: SlotRatio, budget: Double) throws -> Double? {
        let synthesizer = try weights.makeSynthesizer(context: context.twin(), format: format, maxSteps: Pipeline.maxSteps)
        return try timeNetwork(synthesizer, ratio: ratio, budget: budget)
    }

    /// Times a network on the frame shown last (a network's cost does not depend on the picture),
    /// or on grey before there is one. Off the engine thread, so the engine runs meanwhile: the
    /// figure may be high, and the engine measures every pair it runs anyway.
    private func timeNetwork(_ synthesizer: FrameSynthesizer, ratio: SlotRatio, budget: Double) throws -> Double? {
        let times = Pipeline.warmTimes(ratio: ratio)
        let measured = try withLastFrame { frame in
            try Pipeline.measure(synthesizer, frames: (frame, frame), times: times, giveUp: 2 * max(budget, 1))
        }
        let cost: Double?
        if let measured {
            cost = measured
        } else {
            let grey = [UInt8](repeating: 128, count: format.byteCount)
            cost = try grey.withUnsafeBytes { try Pipeline.measure(synthesizer, frames: ($0, $0), times: times, giveUp: 2 * max(budget, 1)) }
        }
        synthesizer.reset()
        return cost
    }

    /// On the engine thread, between pairs: takes a network the loader has built. Called under `state`.
    func takeDeliveredNetwork() {
        guard let delivery = networkDelivery else { return }
        networkDelivery = nil
        neuralLoaded = delivery.source
        neural = (delivery.source, delivery.synthesizer)
        if case .neural = active { interpolatorStale = true }
        if let level = QualityLevel.allCases.first(where: { $0.neuralMode == delivery.source.model.mode }) {
            controller.forget(level)
            if let milliseconds = delivery.milliseconds { controller.seed(level, milliseconds: milliseconds) }
        }
        // The settings are applied again with the network in place.
        networkArrived = true
    }
}

/// A network the loader built, with what timing it measured.
struct NetworkDelivery {
    var source: NeuralSource
    var synthesizer: FrameSynthesizer
    var milliseconds: Double?
}

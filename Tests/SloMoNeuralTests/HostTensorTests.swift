import XCTest
@testable import SloMoNeural

final class HostTensorTests: XCTestCase {
    func testCountFollowsShape() {
        let tensor = HostTensor(shape: [2, 3, 1, 1], values: Array(repeating: 0, count: 6))
        XCTAssertEqual(tensor.count, 6)
    }
}

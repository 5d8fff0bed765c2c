import CleaningPlatform
import XCTest

final class PhoneMaskTests: XCTestCase {
    func testMainlandMobile() {
        XCTAssertEqual(PhoneMask.mask("13812345678"), "138****5678")
        XCTAssertEqual(PhoneMask.mask(" 138-1234-5678 "), "138****5678")
        XCTAssertEqual(PhoneMask.mask("138 1234 5678"), "138****5678")
    }

    func testCountryPrefixIsKept() {
        XCTAssertEqual(PhoneMask.mask("+8613812345678"), "+86 138****5678")
        XCTAssertEqual(PhoneMask.mask("+86 138 1234 5678"), "+86 138****5678")
        XCTAssertEqual(PhoneMask.mask("8613812345678"), "86 138****5678")
        XCTAssertEqual(PhoneMask.mask("008613812345678"), "0086 138****5678")
    }

    func testShortNumbersKeepOnlyLastTwoDigits() {
        XCTAssertEqual(PhoneMask.mask("123456"), "****56")
        XCTAssertEqual(PhoneMask.mask("123"), "*23")
        XCTAssertEqual(PhoneMask.mask("12"), "12")
        XCTAssertEqual(PhoneMask.mask(""), "")
    }

    func testOtherNumbersAreMaskedInPlace() {
        XCTAssertEqual(PhoneMask.mask("010-12345678"), "010-****5678")
        XCTAssertEqual(PhoneMask.mask("1234567"), "***4567")
        XCTAssertEqual(PhoneMask.mask("+1 415 555 0123"), "+1 41* *** 0123")
        XCTAssertEqual(PhoneMask.mask("+13812345678"), "+138****5678")
    }

    func testNeverReturnsInputWithThreeOrMoreDigitsUnchanged() {
        let samples = [
            "123", "1234", "12345678", "123456789012345", "+8613812345678", "device-abc123", "user:4711",
            "(021) 6543 2100", "19900001111", "+44 20 7946 0958",
        ]
        for sample in samples {
            let masked = PhoneMask.mask(sample)
            XCTAssertNotEqual(masked, sample, sample)
            XCTAssertTrue(masked.contains("*"), sample)
        }
        // Exhaustive over lengths 3…20.
        for length in 3...20 {
            let digits = String((0..<length).map { Character(String($0 % 10)) })
            XCTAssertNotEqual(PhoneMask.mask(digits), digits, digits)
        }
    }

    func testMaskAllInFreeText() {
        XCTAssertEqual(
            PhoneMask.maskAll(in: "invalid recipient 13812345678; try 13987654321"),
            "invalid recipient 138****5678; try 139****4321")
        XCTAssertEqual(PhoneMask.maskAll(in: "to:13812345678."), "to:138****5678.")
        XCTAssertEqual(PhoneMask.maskAll(in: "13812345678"), "138****5678")
        XCTAssertEqual(PhoneMask.maskAll(in: "+8613812345678 failed"), "+86138****5678 failed")
        XCTAssertEqual(
            PhoneMask.maskAll(in: "call 138 1234 5678 or 138-1234-5678"), "call 138 **** 5678 or 138-****-5678")
    }

    func testMaskAllFindsEveryWrittenForm() {
        let cases = [
            ("+86 138 1234 5678", "+86 138 **** 5678"),
            ("+86-138-1234-5678", "+86-138-****-5678"),
            ("0086 13812345678", "0086 138****5678"),
            ("008613812345678", "0086138****5678"),
            ("0086-138-1234-5678", "0086-138-****-5678"),
            ("86 13812345678", "86 138****5678"),
            ("8613812345678", "86138****5678"),
            ("138 12345678", "138 ****5678"),
            ("1381234-5678", "138****-5678"),
            ("1 3 8 1 2 3 4 5 6 7 8", "1 3 8 * * * * 5 6 7 8"),
            ("order 12 13812345678 failed", "order 12 138****5678 failed"),
            ("phone=13812345678&x=1", "phone=138****5678&x=1"),
        ]
        for (text, masked) in cases {
            XCTAssertEqual(PhoneMask.maskAll(in: text), masked, text)
        }
    }

    func testMaskAllLeavesOtherNumbersAlone() {
        let text = "order 12345, amount 99.50, id 123456789012, ts 1712345678901, code 23812345678"
        XCTAssertEqual(PhoneMask.maskAll(in: text), text)
        XCTAssertEqual(PhoneMask.maskAll(in: ""), "")
        XCTAssertEqual(PhoneMask.maskAll(in: "138 1234 56789"), "138 1234 56789")
    }
}

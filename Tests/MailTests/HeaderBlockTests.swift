// The gateway filter's header edits (issue 7): the subject replaced and a trace field put in
// front, with every other byte of the message exactly as it was, for CRLF and LF messages;
// non-ASCII text written as RFC 2047 encoded words that read back as the same text; no line
// break in a new value can make a second field; and reading stops at the blank line.
import Foundation
import Mail
import XCTest

final class HeaderBlockTests: XCTestCase {
    /// A message made of three pieces, so that a test knows exactly which bytes are the field.
    struct Pieces {
        var before: String
        var field: String
        var after: String
        var message: [UInt8] { Array((before + field + after).utf8) }
    }

    /// Asserts that `edited` is `pieces` with only the field replaced, and returns the new field's bytes.
    @discardableResult
    func assertOnlyFieldReplaced(_ edited: [UInt8], _ pieces: Pieces, lineEnding: String,
                                 file: StaticString = #filePath, line: UInt = #line) -> String {
        let before = Array(pieces.before.utf8), after = Array(pieces.after.utf8)
        XCTAssertGreaterThanOrEqual(edited.count, before.count + after.count, file: file, line: line)
        guard edited.count >= before.count + after.count else { return "" }
        XCTAssertEqual(Array(edited.prefix(before.count)), before, "every byte before the field is unchanged", file: file, line: line)
        XCTAssertEqual(Array(edited.suffix(after.count)), after, "every byte after the field is unchanged", file: file, line: line)
        let middle = String(decoding: edited[before.count..<(edited.count - after.count)], as: UTF8.self)
        XCTAssertTrue(middle.hasPrefix("Subject:"), middle, file: file, line: line)
        XCTAssertTrue(middle.hasSuffix(lineEnding), "the field ends with the message's own line ending: \(middle.debugDescription)", file: file, line: line)
        assertLineEnds(Array(middle.utf8), lineEnding, file: file, line: line)
        // Every line after the first is a continuation line.
        let lines = middle.components(separatedBy: lineEnding).dropLast()
        for l in lines.dropFirst() {
            XCTAssertTrue(l.hasPrefix(" ") || l.hasPrefix("\t"), "a folded line starts with white space: \(l.debugDescription)", file: file, line: line)
        }
        return middle
    }

    /// Every LF in `bytes` is preceded by CR (CRLF) or none is (LF).
    func assertLineEnds(_ bytes: [UInt8], _ lineEnding: String, file: StaticString = #filePath, line: UInt = #line) {
        for (i, b) in bytes.enumerated() {
            if b == 0x0A {
                let crBefore = i > 0 && bytes[i - 1] == 0x0D
                XCTAssertEqual(crBefore, lineEnding == "\r\n", "line end at byte \(i) does not match the message's", file: file, line: line)
            }
            if b == 0x0D {
                XCTAssertTrue(i + 1 < bytes.count && bytes[i + 1] == 0x0A, "a bare CR at byte \(i)", file: file, line: line)
            }
        }
    }

    // MARK: - replacingValue

    func testReplacingTheSubjectOfACRLFMessageChangesOnlyThatFieldsBytes() throws {
        let pieces = Pieces(before: "", field: "Subject: [secure] Quarterly figures\r\n",
                            after: "From: Alice <alice@corp.example>\r\nTo: bob@ext.example\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n"
                                + "\r\nSubject: a body line that looks like a field\r\n  trailing spaces  \r\n")
        let header = HeaderBlock(pieces.message)
        XCTAssertEqual(header.lineEnding, "\r\n")
        let edited = header.replacingValue(of: "Subject", with: "Quarterly figures")
        let field = assertOnlyFieldReplaced(edited, pieces, lineEnding: "\r\n")
        XCTAssertEqual(field, "Subject: Quarterly figures\r\n")
        XCTAssertEqual(HeaderBlock(edited).decodedValue("Subject"), "Quarterly figures")
    }

    func testReplacingTheSubjectOfAnLFMessageWhereItIsNotFirstChangesOnlyThatFieldsBytes() throws {
        let pieces = Pieces(before: "Received: from mx.corp.example\n\tby gw.corp.example; Wed, 25 Nov 2026 10:00:00 +0000\nFrom: alice@corp.example\nTo: bob@ext.example\n",
                            field: "Subject: Re: [SECURE] Vertrag\n",
                            after: "Message-ID: <m1@corp.example>\nSubject: a second subject field\n\nbody\n\nmore body\n")
        let header = HeaderBlock(pieces.message)
        XCTAssertEqual(header.lineEnding, "\n")
        let edited = header.replacingValue(of: "subject", with: "Re: Vertrag")
        let field = assertOnlyFieldReplaced(edited, pieces, lineEnding: "\n")
        XCTAssertEqual(field, "Subject: Re: Vertrag\n", "the field keeps its own name's spelling")
        let after = HeaderBlock(edited)
        XCTAssertEqual(after.fields.map(\.name), header.fields.map(\.name))
        XCTAssertEqual(after.decodedValue("Subject"), "Re: Vertrag")
        XCTAssertEqual(after.fields.last?.rawValue, "a second subject field", "only the first Subject field is replaced")
    }

    func testReplacingAFoldedMultiLineSubjectReplacesAllOfItsLinesAndNothingElse() throws {
        for eol in ["\r\n", "\n"] {
            let pieces = Pieces(before: "From: alice@corp.example\(eol)",
                                field: "Subject: [secure] a subject long enough\(eol) to be folded over\(eol)\tthree lines\(eol)",
                                after: "To: bob@ext.example\(eol)X-Other: kept\(eol)\(eol)body\(eol)")
            let header = HeaderBlock(pieces.message)
            XCTAssertEqual(header.decodedValue("Subject"), "[secure] a subject long enough to be folded over\tthree lines")
            let edited = header.replacingValue(of: "Subject", with: "a subject long enough to be folded over three lines")
            assertOnlyFieldReplaced(edited, pieces, lineEnding: eol)
            XCTAssertEqual(HeaderBlock(edited).decodedValue("Subject"), "a subject long enough to be folded over three lines")
            XCTAssertEqual(HeaderBlock(edited).fields.map(\.name), ["From", "Subject", "To", "X-Other"])
        }
    }

    func testALongReplacementIsFoldedWithTheMessagesLineEndingAndReadsBackWhole() throws {
        let long = (1...30).map { "word\($0)" }.joined(separator: " ")
        for eol in ["\r\n", "\n"] {
            let pieces = Pieces(before: "From: a@corp.example\(eol)", field: "Subject: short\(eol)", after: "To: b@ext.example\(eol)\(eol)body\(eol)")
            let edited = HeaderBlock(pieces.message).replacingValue(of: "Subject", with: long)
            let field = assertOnlyFieldReplaced(edited, pieces, lineEnding: eol)
            XCTAssertGreaterThan(field.components(separatedBy: eol).count, 2, "folded: \(field.debugDescription)")
            XCTAssertEqual(HeaderBlock(edited).decodedValue("Subject"), long)
            XCTAssertEqual(try MessageParser.parse(edited).subject, long)
        }
    }

    func testNonASCIIReplacementIsWrittenAsEncodedWordsThatDecodeBack() throws {
        let texts = ["Grüße aus Köln", "Привет, мир", "😀 Émoji and 漢字 mixed with ASCII words",
                     String(repeating: "Straße über Ölmühle ", count: 8).trimmingCharacters(in: .whitespaces)]
        for text in texts {
            for eol in ["\r\n", "\n"] {
                let pieces = Pieces(before: "From: a@corp.example\(eol)To: b@ext.example\(eol)",
                                    field: "Subject: =?utf-8?q?=5Bsecure=5D_old?=\(eol)",
                                    after: "Date: Wed, 25 Nov 2026 10:00:00 +0000\(eol)\(eol)Grüße im Körper\(eol)")
                let edited = HeaderBlock(pieces.message).replacingValue(of: "Subject", with: text)
                let field = assertOnlyFieldReplaced(edited, pieces, lineEnding: eol)
                XCTAssertTrue(field.utf8.allSatisfy { $0 < 0x80 }, "the field is plain ASCII: \(field)")
                XCTAssertTrue(field.contains("=?") && field.lowercased().contains("utf-8"), "RFC 2047 encoded words: \(field)")
                XCTAssertEqual(HeaderBlock(edited).decodedValue("Subject"), text, field)
                XCTAssertEqual(try MessageParser.parse(edited).subject, text, field)
            }
        }
    }

    func testAnASCIIReplacementThatLooksLikeAnEncodedWordReadsBackAsWritten() throws {
        let text = "Re: =?utf-8?q?not_encoded?= literally"
        let message = Array("From: a@corp.example\r\nSubject: [secure] x\r\n\r\nbody\r\n".utf8)
        let edited = HeaderBlock(message).replacingValue(of: "Subject", with: text)
        XCTAssertEqual(HeaderBlock(edited).decodedValue("Subject"), text,
                       String(decoding: edited, as: UTF8.self))
        XCTAssertEqual(try MessageParser.parse(edited).subject, text)
    }

    func testAReplacementHoldingCRLFCannotInjectAHeaderFieldOrBody() throws {
        for eol in ["\r\n", "\n"] {
            let pieces = Pieces(before: "From: alice@corp.example\(eol)", field: "Subject: [secure] x\(eol)",
                                after: "To: bob@ext.example\(eol)\(eol)the body\(eol)")
            let header = HeaderBlock(pieces.message)
            for evil in ["x\r\nBcc: mallory@evil.example", "x\nBcc: mallory@evil.example\n\ninjected body",
                         "x\rBcc: mallory@evil.example", "\r\n\r\nBcc: mallory@evil.example", "x\u{2028}Bcc: m@evil.example",
                         "Grüße\r\nBcc: mallory@evil.example"] {
                let edited = header.replacingValue(of: "Subject", with: evil)
                assertOnlyFieldReplaced(edited, pieces, lineEnding: eol)
                let after = HeaderBlock(edited)
                XCTAssertEqual(after.fields.map(\.name), ["From", "Subject", "To"], evil.debugDescription)
                XCTAssertNil(after.decodedValue("Bcc"), evil.debugDescription)
                XCTAssertTrue(after.decodedValue("Subject")?.contains("Bcc: m") ?? false, "the text stays inside the subject")
                let parsed = try MessageParser.parse(edited)
                XCTAssertEqual(parsed.textBody?.trimmingCharacters(in: .newlines), "the body")
            }
        }
    }

    func testReplacingAFieldTheMessageDoesNotHaveLeavesItUnchanged() {
        let message = Array("From: a@corp.example\r\nTo: b@ext.example\r\n\r\nSubject: in the body\r\n".utf8)
        XCTAssertEqual(HeaderBlock(message).replacingValue(of: "Subject", with: "new"), message)
    }

    // MARK: - prepending

    func testPrependingPutsExactlyOneFieldInFrontWithTheMessagesLineEnding() {
        for eol in ["\r\n", "\n"] {
            let message = Array("From: alice@corp.example\(eol)Subject: s\(eol)\(eol)body: with a colon\(eol)".utf8)
            let header = HeaderBlock(message)
            let out = header.prepending("X-Spoolrun-Gateway", "pass-through; Wed, 25 Nov 2026 10:00:00 +0000")
            let front = Array("X-Spoolrun-Gateway: pass-through; Wed, 25 Nov 2026 10:00:00 +0000\(eol)".utf8)
            XCTAssertEqual(Array(out.prefix(front.count)), front)
            XCTAssertEqual(Array(out.dropFirst(front.count)), message, "the message follows byte for byte")
            let after = HeaderBlock(out)
            XCTAssertEqual(after.fields.map(\.name), ["X-Spoolrun-Gateway", "From", "Subject"])
            XCTAssertEqual(after.lineEnding, eol)

            let evil = header.prepending("X-Trace", "a\r\nBcc: mallory@evil.example\n\nbody")
            XCTAssertEqual(HeaderBlock(evil).fields.map(\.name), ["X-Trace", "From", "Subject"], "a line break in the value makes no field")
            XCTAssertEqual(Array(evil.suffix(message.count)), message)
            assertLineEnds(Array(evil.prefix(evil.count - message.count)), eol)
        }
    }

    // MARK: - reading

    func testALineWithAColonInTheBodyIsNotAField() {
        for eol in ["\r\n", "\n"] {
            let message = Array("From: alice@corp.example\(eol)Subject: hello\(eol)\(eol)Bcc: mallory@evil.example\(eol)Subject: body\(eol)X-Encrypt: mandatory\(eol)".utf8)
            let header = HeaderBlock(message)
            XCTAssertEqual(header.fields.map(\.name), ["From", "Subject"])
            XCTAssertNil(header.decodedValue("Bcc"))
            XCTAssertNil(header.decodedValue("X-Encrypt"))
            XCTAssertEqual(header.decodedValue("Subject"), "hello")
            XCTAssertEqual(header.decodedFields.map(\.name), ["From", "Subject"])
        }
        // No blank line at all: a line that is not a field ends the header as it would for a reader.
        let noBlank = HeaderBlock(Array("Subject: s\nthis is text\nBcc: x@evil.example\n".utf8))
        XCTAssertEqual(noBlank.fields.map(\.name), ["Subject"])
    }

    func testDecodedValueDecodesEachOfSeveralPaddedBase64WordsAsAMailProgramWritesThem() throws {
        // A long subject split into B words at character boundaries, as Thunderbird or Outlook
        // write it: each word stands alone (RFC 2047 §2), so padding may end any of them.
        func word(_ text: String) -> String { "=?UTF-8?B?\(Data(text.utf8).base64EncodedString())?=" }
        let parts = ["Привет!", " Отчёт за", " третий квартал"]
        XCTAssertTrue(word(parts[0]).contains("=?="), "the first word ends in padding: \(word(parts[0]))")
        let message = Array("From: a@corp.example\r\nSubject: \(parts.map(word).joined(separator: "\r\n "))\r\n\r\nbody\r\n".utf8)
        XCTAssertEqual(HeaderBlock(message).decodedValue("Subject"), parts.joined())
        XCTAssertEqual(try MessageParser.parse(message).subject, parts.joined())
    }

    func testDecodedValueDecodesRFC2047AndUnfolds() {
        let message = Array("""
            From: =?utf-8?q?J=C3=BCrgen?= <j@corp.example>\r
            subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r
             =?UTF-8?B?0J/RgNC40LLQtdGC?= and\r
            \tmore text  \r
            X-Empty:\r
            \r
            body\r

            """.utf8)
        let header = HeaderBlock(message)
        XCTAssertEqual(header.decodedValue("Subject"), "GrüßeПривет and\tmore text",
                       "adjacent encoded words join, folds are removed, ends trimmed")
        XCTAssertEqual(header.fields.first { $0.name == "subject" }?.rawValue,
                       "=?utf-8?q?Gr=C3=BC=C3=9Fe?= =?UTF-8?B?0J/RgNC40LLQtdGC?= and\tmore text  ", "raw: unfolded, not decoded")
        XCTAssertEqual(header.decodedValue("FROM"), "Jürgen <j@corp.example>")
        XCTAssertEqual(header.decodedValue("X-Empty"), "")
        XCTAssertNil(header.decodedValue("To"))
        XCTAssertEqual(header.decodedFields.map(\.name), ["From", "subject", "X-Empty"])
        XCTAssertEqual(header.decodedFields.map(\.value), ["Jürgen <j@corp.example>", "GrüßeПривет and\tmore text", ""])
    }
}

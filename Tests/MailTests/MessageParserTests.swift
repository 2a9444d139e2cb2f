// Reading an original message for the portal: small messages written out in each test, one
// rule per test. Lines end in LF unless the rule is about line ends; GMime takes either.
@testable import Mail
import Foundation
import XCTest

final class MessageParserTests: XCTestCase {
    func parse(_ text: String, limits: MIMELimits = .init()) throws -> ParsedMessage {
        try MessageParser.parse(Array(text.utf8), limits: limits)
    }

    func base64Lines(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString(options: [.lineLength76Characters, .endLineWithLineFeed])
    }

    // MARK: Headers

    func testEncodedWordSubjectsAreDecodedToUTF8() throws {
        let b = Data("😀 Привет".utf8).base64EncodedString()
        let cases: [(String, String)] = [
            ("=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=", "Grüße aus Köln"),
            ("=?utf-8?B?\(b)?=", "😀 Привет"),
            ("=?ISO-8859-1?Q?Caf=E9_cr=E8me?=", "Café crème"),
            // RFC 2047 §6.2: white space between adjacent encoded-words is dropped.
            ("=?UTF-8?Q?one?= =?UTF-8?Q?_two?=", "one two"),
            ("plain words", "plain words"),
        ]
        for (encoded, expected) in cases {
            let m = try parse("From: a@example.org\nSubject: \(encoded)\n\nbody\n")
            XCTAssertEqual(m.subject, expected, encoded)
        }
    }

    func testAddressesDateAndMessageIDAreRead() throws {
        let m = try parse("""
            From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.org>
            To: Ann <ann@example.org>, bob@example.net, Team: carl@example.com, "Dee, D." <dee@example.com>;
            Cc: <cc@example.org>
            Reply-To: replies@example.org
            Date: Tue, 01 Jul 2025 10:30:15 +0200
            Message-ID: <abc.123@example.org>
            Subject: hi

            body

            """)
        XCTAssertEqual(m.from, [MessageAddress(name: "Jürgen Müller", address: "jm@example.org")])
        XCTAssertEqual(m.to.map(\.address), ["ann@example.org", "bob@example.net", "carl@example.com", "dee@example.com"])
        XCTAssertEqual(m.to.first?.name, "Ann")
        XCTAssertEqual(m.to.last?.name, "Dee, D.")
        XCTAssertEqual(m.cc, [MessageAddress(name: nil, address: "cc@example.org")])
        XCTAssertEqual(m.replyTo.map(\.address), ["replies@example.org"])
        XCTAssertEqual(m.date, Date(timeIntervalSince1970: 1_751_358_615))
        XCTAssertEqual(m.messageID, "abc.123@example.org")
    }

    // MARK: Text

    func testFormatFlowedIsUnwrappedAndDelSpHonoured() throws {
        let flowed = "Content-Type: text/plain; charset=utf-8; format=flowed\n\n"
            + "The quick brown \nfox jumps.\n> quoted \n> line\n From stuffed\n-- \nsig\n"
        XCTAssertEqual(try parse("Subject: f\n" + flowed).textBody,
                       "The quick brown fox jumps.\n> quoted line\nFrom stuffed\n-- \nsig\n")

        // delsp=yes (RFC 3676 §4.2): the space before the line break was added to mark the
        // break, so it goes when the lines are joined (this is how words without spaces wrap).
        let delsp = "Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes\n\n"
            + "Donaudampf \nschiff \nfahrt\nnext\n"
        XCTAssertEqual(try parse("Subject: f\n" + delsp).textBody, "Donaudampfschifffahrt\nnext\n")

        // Without format=flowed nothing is joined.
        let fixed = "Content-Type: text/plain; charset=utf-8\n\nThe quick brown \nfox\n"
        XCTAssertEqual(try parse("Subject: f\n" + fixed).textBody, "The quick brown \nfox\n")
    }

    func testTextBodyLineEndsBecomeLF() throws {
        let m = try parse("Subject: crlf\r\nContent-Type: text/plain\r\n\r\none\r\ntwo\r\n")
        XCTAssertEqual(m.textBody, "one\ntwo\n")
    }

    func testKnownCharsetsAreConvertedToUTF8() throws {
        let cases: [(String, [UInt8], String)] = [
            ("koi8-r", [0xF0, 0xD2, 0xC9, 0xD7, 0xC5, 0xD4], "Привет"),
            ("windows-1251", [0xCF, 0xF0, 0xE8, 0xE2, 0xE5, 0xF2], "Привет"),
            ("iso-2022-jp", [0x1B, 0x24, 0x42, 0x46, 0x7C, 0x4B, 0x5C, 0x1B, 0x28, 0x42], "日本"),
            ("ISO-8859-15", [0xA4], "€"),
            // Labelled Latin-1, meant Windows-1252 (as browsers read it): curly quotes.
            ("iso-8859-1", [0x93, 0x68, 0x69, 0x94], "\u{201C}hi\u{201D}"),
        ]
        for (charset, bytes, expected) in cases {
            let message = Array("Subject: c\nContent-Type: text/plain; charset=\(charset)\nContent-Transfer-Encoding: 8bit\n\n".utf8)
                + bytes
            let m = try MessageParser.parse(message)
            XCTAssertEqual(m.textBody, expected, charset)
            XCTAssertEqual(m.problems, [], charset)
        }
    }

    func testUnknownCharsetFallsBackToLatin1WithANote() throws {
        let message = Array("Subject: c\nContent-Type: text/plain; charset=x-foo\n\n".utf8) + [0x63, 0x61, 0x66, 0xE9]
        let m = try MessageParser.parse(message)
        XCTAssertEqual(m.textBody, "café")
        XCTAssertEqual(m.problems, ["part 1: unknown charset x-foo, shown as Latin-1 (Windows-1252)"])
    }

    func testUnknownCharsetThatIsValidUTF8IsShownAsUTF8() throws {
        let m = try parse("Subject: c\nContent-Type: text/plain; charset=x-made-up\n\ncafé\n")
        XCTAssertEqual(m.textBody, "café\n")
        XCTAssertEqual(m.problems, ["part 1: unknown charset x-made-up, shown as UTF-8"])
    }

    func testInvalidBytesAreReplacedAndNoted() throws {
        let utf8 = Array("Subject: c\nContent-Type: text/plain; charset=utf-8\n\n".utf8) + [0x61, 0xFF, 0x62]
        let m = try MessageParser.parse(utf8)
        XCTAssertEqual(m.textBody, "a\u{FFFD}b")
        XCTAssertEqual(m.problems, ["part 1: bytes that are not valid UTF-8 were replaced"])

        // 0x82 0x20 is not Shift_JIS: iconv stops there, we replace one byte and go on.
        let sjis = Array("Subject: c\nContent-Type: text/plain; charset=shift_jis\n\n".utf8) + [0x41, 0x82, 0x20, 0x42]
        let s = try MessageParser.parse(sjis)
        XCTAssertEqual(s.textBody, "A\u{FFFD} B")
        XCTAssertEqual(s.problems, ["part 1: 1 byte(s) not valid in charset shift_jis were replaced"])
    }

    func testEightBitTextWithoutCharsetIsReadAsUTF8WhenItIs() throws {
        let m = try parse("Subject: c\n\nnaïve\n")
        XCTAssertEqual(m.textBody, "naïve\n")
        XCTAssertEqual(m.problems, [])
    }

    // MARK: Structure

    func testAlternativeKeepsBothThePlainAndTheHTMLBody() throws {
        let m = try parse("""
            Subject: alt
            MIME-Version: 1.0
            Content-Type: multipart/alternative; boundary="b1"

            --b1
            Content-Type: text/plain; charset=utf-8

            Plain text.
            --b1
            Content-Type: text/html; charset=iso-8859-1
            Content-Transfer-Encoding: quoted-printable

            <p>Caf=E9</p>
            --b1--

            """)
        XCTAssertEqual(m.textBody, "Plain text.")
        XCTAssertEqual(m.htmlBody, HTMLBody(bytes: [UInt8]("<p>Caf".utf8) + [0xE9] + [UInt8]("</p>".utf8),
                                            charset: "iso-8859-1"))
        XCTAssertEqual(m.attachments, [])
    }

    func testAlternativePrefersTheLastOfEachKind() throws {
        let m = try parse("""
            Subject: alt
            Content-Type: multipart/alternative; boundary=b

            --b
            Content-Type: text/plain

            first plain
            --b
            Content-Type: text/html

            <p>first html</p>
            --b
            Content-Type: text/html

            <p>richest html</p>
            --b
            Content-Type: text/calendar; method=REQUEST

            BEGIN:VCALENDAR
            END:VCALENDAR
            --b--

            """)
        XCTAssertEqual(m.textBody, "first plain")
        XCTAssertEqual(m.htmlBody.map { String(decoding: $0.bytes, as: UTF8.self) }, "<p>richest html</p>")
        // An alternative that is not a body (an invitation) stays available as a download.
        XCTAssertEqual(m.attachments.map(\.mediaType), ["text/calendar"])
        XCTAssertEqual(m.attachments.first?.filename, "attachment-1.ics")
    }

    func testRelatedRootIsTheBodyAndTheOtherPartsAreInlineWithContentID() throws {
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + (0..<300).map { UInt8($0 % 251) }
        let m = try parse("""
            Subject: related
            Content-Type: multipart/alternative; boundary=outer

            --outer
            Content-Type: text/plain

            See the logo.
            --outer
            Content-Type: multipart/related; boundary=rel; type="text/html"

            --rel
            Content-Type: text/html; charset=utf-8

            <p>See <img src="cid:logo@example.org"></p>
            --rel
            Content-Type: image/png
            Content-ID: <logo@example.org>
            Content-Transfer-Encoding: base64

            \(base64Lines(png))
            --rel--
            --outer--

            """)
        XCTAssertEqual(m.textBody, "See the logo.")
        XCTAssertEqual(m.htmlBody?.bytes, Array("<p>See <img src=\"cid:logo@example.org\"></p>".utf8))
        XCTAssertEqual(m.attachments.count, 1)
        let image = try XCTUnwrap(m.attachments.first)
        XCTAssertTrue(image.isInline)
        XCTAssertEqual(image.contentID, "logo@example.org")
        XCTAssertEqual(image.mediaType, "image/png")
        XCTAssertEqual(image.data, png)
        XCTAssertEqual(image.filename, "attachment-1.png")
    }

    func testRelatedStartParameterChoosesTheRoot() throws {
        let m = try parse("""
            Subject: related
            Content-Type: multipart/related; boundary=rel; start="<root@x>"

            --rel
            Content-Type: image/gif
            Content-ID: <img@x>

            GIF89a
            --rel
            Content-Type: text/html
            Content-ID: <root@x>

            <img src="cid:img@x">
            --rel--

            """)
        XCTAssertEqual(m.htmlBody?.bytes, Array("<img src=\"cid:img@x\">".utf8))
        XCTAssertEqual(m.attachments.map(\.contentID), ["img@x"])
        XCTAssertEqual(m.attachments.map(\.isInline), [true])
    }

    func testRelatedTypeParameterFindsTheRootWhenImagesComeFirst() throws {
        // MHTML as some writers produce it: no "start", the image first, the root's type named.
        let m = try parse("""
            Subject: mhtml
            Content-Type: multipart/related; type="text/html"; boundary=rel

            --rel
            Content-Type: image/gif
            Content-Location: image1

            GIF89a
            --rel
            Content-Type: text/html

            <img src="image1">
            --rel--

            """)
        XCTAssertEqual(m.htmlBody?.bytes, Array("<img src=\"image1\">".utf8))
        XCTAssertEqual(m.attachments.map(\.mediaType), ["image/gif"])
        XCTAssertEqual(m.attachments.map(\.isInline), [true])
    }

    func testMixedAttachmentBytesAreDecodedFromBase64Exactly() throws {
        var generator = SystemRandomNumberGenerator()
        let pdf = Array("%PDF-1.4\n".utf8) + (0..<5000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let m = try parse("""
            Subject: mixed
            Content-Type: multipart/mixed; boundary="=_mixed"

            --=_mixed
            Content-Type: text/plain; charset=utf-8

            Report attached.
            --=_mixed
            Content-Type: application/pdf; name="report.pdf"
            Content-Disposition: attachment; filename="report.pdf"
            Content-Transfer-Encoding: base64

            \(base64Lines(pdf))
            --=_mixed--

            """)
        XCTAssertEqual(m.textBody, "Report attached.")
        XCTAssertNil(m.htmlBody)
        XCTAssertEqual(m.attachments.count, 1)
        XCTAssertEqual(m.attachments[0].data, pdf)
        XCTAssertEqual(m.attachments[0].filename, "report.pdf")
        XCTAssertEqual(m.attachments[0].mediaType, "application/pdf")
        XCTAssertEqual(m.attachments[0].index, 1)
        XCTAssertFalse(m.attachments[0].isInline)
    }

    func testTextPlainWithAttachmentDispositionIsAnAttachment() throws {
        let m = try parse("""
            Subject: mixed
            Content-Type: multipart/mixed; boundary=b

            --b
            Content-Type: text/plain

            The body.
            --b
            Content-Type: text/plain; charset=utf-8
            Content-Disposition: attachment; filename=notes.txt

            Not the body.
            --b
            Content-Type: text/plain; name=log.txt

            Named and not first: an attachment too.
            --b
            Content-Type: text/plain

            An unnamed text part later on is more body.
            --b--

            """)
        XCTAssertEqual(m.textBody, "The body.\nAn unnamed text part later on is more body.")
        XCTAssertEqual(m.attachments.map(\.filename), ["notes.txt", "log.txt"])
        XCTAssertEqual(m.attachments.map(\.index), [1, 2])
        XCTAssertEqual(m.attachments[0].data, Array("Not the body.".utf8))
    }

    func testSingleAttachmentMessageHasNoBody() throws {
        let m = try parse("""
            Subject: just a file
            Content-Type: application/octet-stream
            Content-Disposition: attachment; filename=data.bin
            Content-Transfer-Encoding: base64

            AAECAw==

            """)
        XCTAssertNil(m.textBody)
        XCTAssertNil(m.htmlBody)
        XCTAssertEqual(m.attachments.map(\.data), [[0, 1, 2, 3]])
    }

    func testTextAfterAnAlternativeIsShownInBothBodies() throws {
        // A mailing-list footer added after the sender's alternative: JMAP shows both.
        let m = try parse("""
            Subject: footer
            Content-Type: multipart/mixed; boundary=m

            --m
            Content-Type: multipart/alternative; boundary=a

            --a
            Content-Type: text/plain

            Hello <you>.
            --a
            Content-Type: text/html

            <p>Hello</p>
            --a--
            --m
            Content-Type: text/plain

            List footer & unsubscribe
            --m--

            """)
        XCTAssertEqual(m.textBody, "Hello <you>.\nList footer & unsubscribe")
        XCTAssertEqual(m.htmlBody?.charset, "utf-8")
        XCTAssertEqual(m.htmlBody.map { String(decoding: $0.bytes, as: UTF8.self) },
                       "<p>Hello</p>\n<pre>List footer &amp; unsubscribe</pre>")
    }

    func testNestedMessageIsEmbeddedAndReadWithItsOwnAttachments() throws {
        let inner = """
            From: Inner Sender <inner@example.org>
            Subject: =?UTF-8?Q?Inn=C3=A9r?=
            Content-Type: multipart/mixed; boundary=inner

            --inner
            Content-Type: text/plain

            Inner body.
            --inner
            Content-Type: application/zip; name=a.zip
            Content-Transfer-Encoding: base64

            UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==
            --inner--
            """
        let m = try parse("""
            Subject: Fwd: inner
            Content-Type: multipart/mixed; boundary=outer

            --outer
            Content-Type: text/plain

            Forwarding.
            --outer
            Content-Type: message/rfc822

            \(inner)
            --outer--

            """)
        XCTAssertEqual(m.textBody, "Forwarding.")
        XCTAssertEqual(m.attachments, [])
        XCTAssertEqual(m.embeddedMessages.count, 1)
        let embedded = try XCTUnwrap(m.embeddedMessages.first)
        XCTAssertEqual(embedded.index, 1)
        XCTAssertEqual(embedded.filename, "attachment-1.eml")
        XCTAssertEqual(embedded.raw, Array(inner.utf8), "the embedded message is cut out exactly as sent")
        let parsed = try XCTUnwrap(embedded.parsed)
        XCTAssertEqual(parsed.subject, "Innér")
        XCTAssertEqual(parsed.from.map(\.address), ["inner@example.org"])
        XCTAssertEqual(parsed.textBody, "Inner body.")
        XCTAssertEqual(parsed.attachments.map(\.filename), ["a.zip"])
        XCTAssertEqual(parsed.attachments.map(\.index), [2], "downloads are numbered across the whole message")
    }

    func testEmbeddedMessageKeepsItsCRLFLineEndsAndSignedBytes() throws {
        // A forwarded signed message must stay byte for byte what was signed; GMime's own
        // writer would turn these CRLFs into LFs.
        let inner = "From: a@example.org\r\nSubject: signed\r\nDKIM-Signature: v=1; b=abc\r\n\r\n"
            + "Body line  \r\n\r\nwith trailing blanks \r\n"
        let outer = "Subject: fwd\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n"
            + "--o\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "\r\n--o  \r\nContent-Type: text/plain\r\n\r\nafter\r\n--o--\r\n"
        let m = try MessageParser.parse(Array(outer.utf8))
        XCTAssertEqual(m.embeddedMessages.first?.raw, Array(inner.utf8))
        XCTAssertEqual(m.embeddedMessages.first?.parsed?.subject, "signed")
        XCTAssertEqual(m.textBody, "after")
    }

    func testMultipartWithoutAnyPartShowsItsContentAsText() throws {
        let m = try parse("""
            Subject: lost boundary
            Content-Type: multipart/mixed; boundary="declared"

            --other
            Content-Type: text/plain

            The words are still here.
            --other--

            """)
        XCTAssertTrue(m.textBody?.contains("The words are still here.") == true, "\(m.textBody ?? "nil")")
        XCTAssertTrue(m.problems.contains("message: no body parts were found; the raw content is shown as text"),
                      "\(m.problems)")
    }

    func testBase64EncodedNestedMessageIsDecodedAndRead() throws {
        let inner = "From: x@example.org\nSubject: encoded inner\n\nHello from inside.\n"
        let m = try parse("""
            Subject: outer
            Content-Type: multipart/mixed; boundary=b

            --b
            Content-Type: message/rfc822; name="original.eml"
            Content-Transfer-Encoding: base64

            \(base64Lines(Array(inner.utf8)))
            --b--

            """)
        let embedded = try XCTUnwrap(m.embeddedMessages.first)
        XCTAssertEqual(embedded.raw, Array(inner.utf8))
        XCTAssertEqual(embedded.filename, "original.eml")
        XCTAssertEqual(embedded.parsed?.subject, "encoded inner")
        XCTAssertEqual(embedded.parsed?.textBody, "Hello from inside.\n")
    }

    func testRFC2231ContinuedFilenameIsDecoded() throws {
        let m = try parse("""
            Subject: 2231
            Content-Type: multipart/mixed; boundary=b

            --b
            Content-Type: text/plain

            x
            --b
            Content-Type: application/pdf
            Content-Disposition: attachment;
             filename*0*=UTF-8''%E2%82%AC%20exchange%20;
             filename*1*=rates%20f%C3%BCr;
             filename*2=" 2025.pdf"

            %PDF
            --b
            Content-Type: application/pdf; name="=?ISO-8859-1?Q?R=E9sum=E9=2Epdf?="

            %PDF
            --b--

            """)
        XCTAssertEqual(m.attachments.map(\.filename), ["€ exchange rates für 2025.pdf", "Résumé.pdf"])
    }

    // MARK: File names

    func testFilenamesLoseTheirPathAndControlCharacters() throws {
        let m = try parse("""
            Subject: names
            Content-Type: multipart/mixed; boundary=b

            --b
            Content-Type: text/plain

            x
            --b
            Content-Type: application/octet-stream
            Content-Disposition: attachment; filename="../../etc/passwd"

            x
            --b
            Content-Type: application/octet-stream
            Content-Disposition: attachment; filename*=UTF-8''evil%0D%0A%07%E2%80%AEgpj.exe

            x
            --b
            Content-Type: application/pdf
            Content-Disposition: attachment; filename=".."

            x
            --b--

            """)
        XCTAssertEqual(m.attachments.map(\.filename), ["passwd", "evilgpj.exe", "attachment-3.pdf"])
    }

    func testSanitizedFilenameRules() {
        XCTAssertEqual(AttachmentName.sanitized("C:\\Users\\me\\report.pdf"), "report.pdf")
        XCTAssertEqual(AttachmentName.sanitized("/abs/path/x.txt"), "x.txt")
        XCTAssertEqual(AttachmentName.sanitized(".htaccess"), "htaccess")
        XCTAssertEqual(AttachmentName.sanitized("a\u{0}b\u{1F}c\u{7F}d\u{85}.txt"), "abcd.txt")
        XCTAssertEqual(AttachmentName.sanitized("what?<>|*\".txt"), "what______.txt")
        XCTAssertEqual(AttachmentName.sanitized("trailing. . "), "trailing")
        XCTAssertNil(AttachmentName.sanitized("../.."))
        XCTAssertNil(AttachmentName.sanitized("\u{202E}\u{200F}"))
        XCTAssertNil(AttachmentName.sanitized(nil))
        let long = String(repeating: "ü", count: 300) + ".pdf"
        let cut = AttachmentName.sanitized(long)!
        XCTAssertLessThanOrEqual(cut.utf8.count, 200)
        XCTAssertTrue(cut.hasSuffix("ü.pdf"))
        XCTAssertEqual(AttachmentName.fallback(index: 7, mediaType: "image/jpeg"), "attachment-7.jpg")
        XCTAssertEqual(AttachmentName.fallback(index: 2, mediaType: "application/x-unheard-of"), "attachment-2.bin")
    }

    // MARK: Broken input

    func testEmptyInputThrows() {
        XCTAssertThrowsError(try MessageParser.parse([]))
    }

    func testTextWithoutHeaderFieldsIsShownAsTheBody() throws {
        let m = try parse("hello world\n\nsecond paragraph\n")
        XCTAssertEqual(m.textBody, "hello world\n\nsecond paragraph\n")
        XCTAssertEqual(m.problems, ["message: no header fields could be read; the whole message is shown as its body"])
    }

    func testBodyThatFollowsTheHeadersWithoutAnEmptyLineIsKept() throws {
        let m = try parse("From: a@example.org\nSubject: no gap\nHello, this line starts the body.\nSecond line.\n")
        XCTAssertEqual(m.subject, "no gap")
        XCTAssertEqual(m.textBody, "Hello, this line starts the body.\nSecond line.\n")
        XCTAssertEqual(m.problems, ["message: the header block has no empty line after it; the body is taken to start "
                                    + "at the first line that is not a header field"])
        // A stray line with header fields after it is dropped (GMime's rule), keeping those fields.
        let stray = try parse("Subject: s\nthis is no header\nFrom: b@example.org\n\nbody\n")
        XCTAssertEqual(stray.from.map(\.address), ["b@example.org"])
        XCTAssertEqual(stray.textBody, "body\n")
    }

    func testTruncatedMultipartKeepsWhatCanBeRead() throws {
        let m = try parse("""
            Subject: cut
            Content-Type: multipart/mixed; boundary=b

            --b
            Content-Type: text/plain

            Still here.
            --b
            Content-Type: application/octet-stream
            Content-Transfer-Encoding: base64

            AAECAwQF
            """)
        XCTAssertEqual(m.textBody, "Still here.")
        XCTAssertEqual(m.attachments.map(\.data), [[0, 1, 2, 3, 4, 5]])
        XCTAssertTrue(m.problems.contains("message: the message is truncated; its last part may be incomplete"),
                      "\(m.problems)")
    }

    func testMultipartWithoutBoundaryIsKeptAndNoted() throws {
        let m = try parse("Subject: nb\nContent-Type: multipart/mixed\n\n--x\nContent-Type: text/plain\n\nhi\n--x--\n")
        XCTAssertTrue(m.problems.contains { $0.contains("names no boundary") }, "\(m.problems)")
    }

    func testProblemNotesNeverQuoteContent() throws {
        let words = "confidential merger figures"
        let m = try parse("""
            Subject: \(words)
            Content-Type: multipart/mixed; boundary=b

            --b
            Content-Type: text/plain; charset="x-private-charset"

            \(words) é
            --b
            Content-Type: text/html; charset=bogus

            <p>\(words) é</p>
            """)
        XCTAssertEqual(m.problems.count, 3, "\(m.problems)")  // two charsets, one truncation
        for note in m.problems {
            XCTAssertFalse(note.contains("confidential") || note.contains("<p>") || note.contains("é"), note)
        }
    }

    // MARK: Limits

    func nested(depth: Int) -> String {
        var text = "Subject: deep\n"
        for level in 0..<(depth - 1) {
            text += "Content-Type: multipart/mixed; boundary=b\(level)\n\n--b\(level)\n"
        }
        text += "Content-Type: text/plain\n\ninnermost\n"
        for level in (0..<(depth - 1)).reversed() { text += "--b\(level)--\n" }
        return text
    }

    func testDepthBeyondTheLimitThrows() throws {
        var limits = MIMELimits()
        limits.maxDepth = 4
        XCTAssertEqual(try parse(nested(depth: 4), limits: limits).textBody, "innermost")
        XCTAssertThrowsError(try parse(nested(depth: 5), limits: limits)) { error in
            XCTAssertTrue("\(error)".contains("MIME depth limit"), "\(error)")
        }
        XCTAssertThrowsError(try parse(nested(depth: 40))) { error in
            XCTAssertTrue("\(error)".contains("MIME depth limit"), "\(error)")
        }
    }

    func testEmbeddedMessagesCountTowardsTheDepthLimit() throws {
        var text = "Subject: 0\n"
        for level in 1...5 { text += "Content-Type: message/rfc822\n\nSubject: \(level)\n" }
        text += "\nbottom\n"
        var limits = MIMELimits()
        limits.maxDepth = 5
        XCTAssertThrowsError(try parse(text, limits: limits)) { error in
            XCTAssertTrue("\(error)".contains("MIME depth limit"), "\(error)")
        }
        limits.maxDepth = 6
        let m = try parse(text, limits: limits)
        var level = m
        for _ in 1...5 { level = try XCTUnwrap(level.embeddedMessages.first?.parsed) }
        XCTAssertEqual(level.textBody, "bottom\n")
    }

    func manyParts(_ count: Int) -> String {
        var text = "Subject: many\nContent-Type: multipart/mixed; boundary=b\n\n"
        for i in 0..<count { text += "--b\nContent-Type: application/octet-stream\n\npart \(i)\n" }
        return text + "--b--\n"
    }

    func testMorePartsThanTheLimitThrows() throws {
        var limits = MIMELimits()
        limits.maxParts = 10
        // Nine leaves and their multipart: ten parts.
        XCTAssertEqual(try parse(manyParts(9), limits: limits).attachments.count, 9)
        XCTAssertThrowsError(try parse(manyParts(10), limits: limits)) { error in
            XCTAssertTrue("\(error)".contains("MIME parts limit"), "\(error)")
        }
    }

    func testFloodOfEmptyPartsIsRefusedBeforeParsing() throws {
        // 2 MB of "--b\n\n" would cost GMime about half a gigabyte; the prescan refuses it.
        let flood = "Subject: flood\nContent-Type: multipart/mixed; boundary=b\n\n"
            + String(repeating: "--b\n\n", count: 400_000) + "--b--\n"
        let start = Date()
        XCTAssertThrowsError(try parse(flood)) { error in
            XCTAssertTrue("\(error)".contains("MIME parts limit"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
    }

    func testDashLinesInATextBodyAreNotMistakenForParts() throws {
        // The prescan counts only lines that match a declared boundary.
        let body = String(repeating: "--------------------\n-- \n--b-not-quite\n", count: 1500)
        let m = try parse("Subject: dashes\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\n\(body)--b--\n")
        XCTAssertEqual(m.textBody?.count, body.count - 1)
    }

    func testBoundaryInRFC2231FormStillParses() throws {
        // The prescan cannot read this form and counts every "--" line instead.
        let m = try parse("""
            Subject: 2231 boundary
            Content-Type: multipart/mixed; boundary*0="split-"; boundary*1="boundary"

            --split-boundary
            Content-Type: text/plain

            one
            --split-boundary
            Content-Type: application/octet-stream

            two
            --split-boundary--

            """)
        XCTAssertEqual(m.textBody, "one")
        XCTAssertEqual(m.attachments.map(\.data), [Array("two".utf8)])
    }

    func testHeaderBlockBeyondTheLimitThrows() throws {
        var limits = MIMELimits()
        limits.maxHeaderBytes = 4096
        let big = "Subject: big\n" + String(repeating: "X-Filler: 0123456789abcdef\n", count: 200) + "\nbody\n"
        XCTAssertThrowsError(try parse(big, limits: limits)) { error in
            XCTAssertTrue("\(error)".contains("header block limit"), "\(error)")
        }
        // The same in a body part's header block.
        let inPart = "Subject: p\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
            + String(repeating: "X-Filler: 0123456789abcdef\n", count: 200) + "\nbody\n--b--\n"
        XCTAssertThrowsError(try parse(inPart, limits: limits)) { error in
            XCTAssertTrue("\(error)".contains("header block limit"), "\(error)")
        }
        // A large body is not a large header block.
        let bigBody = "Subject: fine\n\n" + String(repeating: "Key: value\n", count: 2000)
        XCTAssertNotNil(try parse(bigBody, limits: limits).textBody)
    }

    func testHugeHeaderBlockIsRefusedQuickly() throws {
        // 14 MB of short header lines took GMime 3.3 s and 1 GB; refused before GMime sees it.
        let huge = String(repeating: "X-A: b\n", count: 300_000) + "\nbody\n"
        let start = Date()
        XCTAssertThrowsError(try parse(huge)) { error in
            XCTAssertTrue("\(error)".contains("header block limit"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
    }
}

// Each system-library target imports, links and answers with the version Debian 12 ships.
import CGMime
import CHaru
import CLibXML2
import COpenSSL
import CQPDF
import XCTest

final class CLibraryLinkTests: XCTestCase {
    func testOpenSSLIsVersion3() {
        XCTAssertEqual(OpenSSL_version_num() >> 28, 3)
    }

    func testGMimeIsVersion3() {
        XCTAssertEqual(gmime_major_version, 3)
    }

    func testLibxml2ParsesHTML() {
        let html = "<p>hi</p>"
        let doc = htmlReadMemory(html, Int32(html.utf8.count), nil, "UTF-8",
                                 Int32(HTML_PARSE_NOERROR.rawValue | HTML_PARSE_NOWARNING.rawValue | HTML_PARSE_NONET.rawValue))
        XCTAssertNotNil(doc)
        xmlFreeDoc(doc)
        XCTAssertGreaterThanOrEqual(LIBXML_VERSION, 20900)
    }

    func testLibharuMakesADocument() {
        let pdf = HPDF_New(nil, nil)
        XCTAssertNotNil(pdf)
        XCTAssertNotNil(HPDF_AddPage(pdf))
        HPDF_Free(pdf)
        XCTAssertTrue(String(cString: HPDF_GetVersion()).hasPrefix("2."))
    }

    func testQPDFReportsItsVersion() {
        XCTAssertGreaterThanOrEqual(Int(String(cString: qpdf_get_qpdf_version()).prefix(2)) ?? 0, 10)
    }
}

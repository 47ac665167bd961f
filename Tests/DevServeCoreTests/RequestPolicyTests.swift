import Testing

@testable import DevServeServer
@testable import DevServeSite

@Suite struct RequestPolicyTests {
    let policy = RequestPolicy(allowedHosts: ["myapp.test", "*.dev.test"], machineNames: ["workstation"])

    func decide(_ facts: RequestPolicy.Facts, _ policy: RequestPolicy? = nil) -> RequestPolicy.Decision {
        (policy ?? self.policy).evaluate(facts)
    }

    func status(_ decision: RequestPolicy.Decision) -> Int {
        switch decision {
        case .allow: return 200
        case .refuse(let status, _): return status
        }
    }

    @Test(arguments: [
        ("localhost", 200), ("localhost:8080", 200), ("LOCALHOST:8080", 200), ("localhost.", 200),
        ("app.localhost:8080", 200), ("127.0.0.1:8080", 200), ("[::1]:8080", 200), ("[::1]", 200),
        ("192.168.1.20:8080", 200), ("[fe80::1%25eth0]:80", 200), ("workstation:8080", 200),
        ("myapp.test", 200), ("api.dev.test:3000", 200), (" localhost:8080\t", 200), ("App.LocalHost.", 200),
        // DNS rebinding: names that are not ours.
        ("evil.example", 403), ("evil.example:8080", 403), ("localhost.evil.example", 403), ("dev.test.evil", 403),
        ("127.0.0.1.nip.io", 403), ("myapp.test.evil", 403),
        // Malformed.
        ("", 400), ("a b", 400), ("[::1", 400), ("[::1]x", 400), ("localhost:99999", 400), ("localhost:", 400),
        ("localhost:-1", 400), ("local/host", 400), ("user@localhost", 400), ("[zz::1]:80", 400),
        ("localhost:80:80", 400), ("[::1]:", 400), (".", 400), (":8080", 400), ("[]", 400), ("localhost:8o", 400),
    ])
    func hostHeader(_ host: String, _ expected: Int) {
        #expect(status(decide(.init(host: host))) == expected)
    }

    @Test func hostIsRequiredOnHTTP11Only() {
        #expect(status(decide(.init(host: nil))) == 400)
        #expect(status(decide(.init(host: nil, isHTTP1_0: true))) == 200)
    }

    @Test(arguments: [
        ("http://localhost:8080", 200), ("null", 200), ("http://evil.example", 200),
        ("not an origin", 400), ("http://", 400), ("http://a b", 400), ("://localhost", 400),
        ("http://localhost:8080/path", 400), ("http://user@localhost", 400),
    ])
    func originMustBeWellFormed(_ origin: String, _ expected: Int) {
        #expect(status(decide(.init(host: "localhost:8080", origin: origin))) == expected)
    }

    @Test func internalEndpointsAnswerTheSameOriginOnly() {
        let host = "localhost:8080"
        #expect(status(decide(.init(host: host, isInternalPath: true))) == 200)
        #expect(status(decide(.init(host: host, origin: "http://localhost:8080", isInternalPath: true))) == 200)
        #expect(status(decide(.init(host: host, origin: "http://evil.example", isInternalPath: true))) == 403)
        #expect(status(decide(.init(host: host, origin: "http://localhost:3000", isInternalPath: true))) == 403)
        #expect(status(decide(.init(host: host, origin: "https://localhost:8080", isInternalPath: true))) == 403)
        #expect(status(decide(.init(host: host, origin: "null", isInternalPath: true))) == 403)
        #expect(status(decide(.init(host: host, secFetchSite: "cross-site", isInternalPath: true))) == 403)
        #expect(status(decide(.init(host: host, secFetchSite: "same-origin", isInternalPath: true))) == 200)
        #expect(status(decide(.init(host: "localhost", origin: "http://localhost:80", isInternalPath: true))) == 200)
    }

    /// Every destination a page on another site could load into itself; only navigations pass.
    static let subresourceDests = [
        "script", "style", "image", "font", "audio", "video", "track", "object", "embed", "json", "worker",
        "sharedworker", "serviceworker", "manifest", "xslt", "empty", "report", "STYLE",
    ]

    @Test(arguments: subresourceDests)
    func crossSiteSubresourceLoadsAreRefused(_ dest: String) {
        let host = "localhost:8080"
        #expect(status(decide(.init(host: host, secFetchSite: "cross-site", secFetchDest: dest))) == 403)
        for site in ["same-site", "same-origin", "none"] {
            #expect(status(decide(.init(host: host, secFetchSite: site, secFetchDest: dest))) == 200, "\(site)")
        }
        // --cors lets its origin load them: by Origin, or by Referer where no Origin is sent.
        let withCORS = RequestPolicy(corsOrigins: ["http://app.test"])
        let fromApp = RequestPolicy.Facts(
            host: host, secFetchSite: "cross-site", secFetchDest: dest, referer: "http://app.test/page.html")
        #expect(status(decide(fromApp, withCORS)) == 200)
        var withOrigin = fromApp
        withOrigin.referer = nil
        withOrigin.origin = "http://app.test"
        #expect(status(decide(withOrigin, withCORS)) == 200)
        var fromElsewhere = fromApp
        fromElsewhere.referer = "http://evil.example/"
        #expect(status(decide(fromElsewhere, withCORS)) == 403)
        #expect(status(decide(fromElsewhere, RequestPolicy(corsOrigins: ["*"]))) == 200)
    }

    @Test func crossSiteNavigationsAreAllowed() {
        for dest in ["document", "iframe", "frame", "Document"] {
            #expect(status(decide(.init(host: "localhost", secFetchSite: "cross-site", secFetchDest: dest))) == 200)
        }
        // Cross-site without a destination is not a navigation either.
        #expect(status(decide(.init(host: "localhost", secFetchSite: "cross-site"))) == 403)
    }

    @Test func resourcePolicyIsSameSiteButForCORSOrigins() {
        #expect(RequestPolicy().resourcePolicy(crossOrigin: false) == "same-site")
        let policy = RequestPolicy(corsOrigins: ["http://app.test"])
        #expect(policy.sharesCrossOrigin(origin: "http://app.test", referer: nil))
        #expect(policy.sharesCrossOrigin(origin: nil, referer: "http://app.test/x?y"))
        #expect(!policy.sharesCrossOrigin(origin: "http://evil.example", referer: "http://app.test/"))
        #expect(!policy.sharesCrossOrigin(origin: nil, referer: nil))
        #expect(policy.resourcePolicy(crossOrigin: true) == "cross-origin")
        #expect(RequestPolicy(corsOrigins: ["*"]).resourcePolicy(crossOrigin: false) == "cross-origin")
    }

    @Test func corsHeadersOnlyWhenAsked() {
        #expect(RequestPolicy().corsAllowOrigin(for: "http://localhost:3000") == nil)
        let policy = RequestPolicy(corsOrigins: ["http://localhost:3000"])
        #expect(policy.corsAllowOrigin(for: "http://localhost:3000") == "http://localhost:3000")
        #expect(policy.corsAllowOrigin(for: "http://evil.example") == nil)
        // Browsers send origins in lower case and without default ports; --cors may be written otherwise.
        let written = RequestPolicy(corsOrigins: ["HTTP://LocalHost:3000", "https://App.Test:443"])
        #expect(written.corsAllowOrigin(for: "http://localhost:3000") == "http://localhost:3000")
        #expect(written.corsAllowOrigin(for: "https://app.test") == "https://app.test")
        #expect(policy.corsAllowOrigin(for: nil) == nil)
        #expect(RequestPolicy(corsOrigins: ["*"]).corsAllowOrigin(for: "http://any.example") == "*")
    }

    @Test(arguments: [
        ("::1", true), ("::", true), ("fe80::1", true), ("2001:db8::8a2e:370:7334", true), ("::ffff:127.0.0.1", true),
        ("1:2:3:4:5:6:7:8", true), ("1:2:3:4:5:6:7:8:9", false), ("1::2::3", false), (":::", false), ("12345::", false),
        ("g::1", false), ("127.0.0.1", false),
    ])
    func ipv6Literals(_ text: String, _ valid: Bool) {
        #expect(IPAddressText.isIPv6(text) == valid)
    }
}

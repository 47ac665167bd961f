import Testing

@testable import DevServeWatcher

struct IgnoreRulesTests {
    @Test(arguments: [
        (".git", true),
        (".git/HEAD", true),
        ("sub/.git/objects/ab", true),
        ("node_modules/react/index.js", true),
        ("packages/app/node_modules/x.js", true),
        ("4913", true),
        ("css/4913", true),
        ("index.html.swp", true),
        (".index.html.swx", true),
        ("index.html~", true),
        (".#index.html", true),
        ("#index.html#", true),
        ("upload.tmp", true),
        ("a/___jb_tmp___", true),
        ("a/___jb_old___", true),
        ("index.html", false),
        ("css/site.css", false),
        ("git/x", false),
        (".github/workflows/ci.yml", false),
        ("my_node_modules/x", false),
        ("49130", false),
        ("tmp/file", false),
        ("", false),
    ])
    func defaults(path: String, ignored: Bool) {
        #expect(IgnoreRules(globs: []).isIgnored(path) == ignored)
    }

    @Test(arguments: [
        // A glob without a slash matches any component.
        ("dist", "dist", true),
        ("dist", "dist/app.js", true),
        ("dist", "packages/web/dist/app.js", true),
        ("dist", "distribution/app.js", false),
        ("*.log", "debug.log", true),
        ("*.log", "logs/today.log", true),
        ("*.log", "log.txt", false),
        ("build/", "sub/build/out.js", true),
        ("te?t", "test/x", true),
        ("[abc].js", "b.js", true),
        ("[abc].js", "d.js", false),
        ("[!abc].js", "d.js", true),
        ("[a-c]x", "bx", true),
        // A glob with a slash matches the relative path, or a folder above it.
        ("docs/*.md", "docs/readme.md", true),
        ("docs/*.md", "docs/deep/readme.md", false),
        ("docs/*.md", "other/docs/readme.md", false),
        ("docs/**/*.md", "docs/readme.md", true),
        ("docs/**/*.md", "docs/a/b/readme.md", true),
        ("docs/**/*.md", "docs/a/b/readme.txt", false),
        ("docs/***/x", "docs/a/x", true),
        ("**/cache", "cache/x", true),
        ("**/cache", "a/b/cache/x", true),
        ("assets/gen", "assets/gen/x.png", true),
        ("assets/gen", "assets/generated/x.png", false),
        ("/dist", "dist/app.js", true),
        ("/dist", "web/dist/app.js", false),
        ("a/**", "a/b/c", true),
        ("a/**", "b/a/c", false),
        ("src/*/tmp", "src/x/tmp/y", true),
        ("src/*/tmp", "src/x/y/tmp", false),
        ("\\*.js", "*.js", true),
        ("\\*.js", "a.js", false),
    ])
    func globs(glob: String, path: String, ignored: Bool) {
        #expect(IgnoreRules(globs: [glob]).isIgnored(path) == ignored, "\(glob) on \(path)")
    }

    @Test func emptyAndSlashOnlyGlobsIgnoreNothing() {
        let rules = IgnoreRules(globs: ["", "/", "//"])
        #expect(!rules.isIgnored("index.html"))
        #expect(rules.globs == ["", "/", "//"])
    }

    @Test func aLeadingSlashOnThePathIsTolerated() {
        #expect(IgnoreRules(globs: []).isIgnored("/node_modules/x"))
    }
}

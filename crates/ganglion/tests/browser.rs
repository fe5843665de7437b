//! The web pages in a real Chromium: this test serves the demo organization on a fresh
//! database of each backend and runs `tests/browser/ui.test.mjs` (playwright-core)
//! against it over HTTP. Screenshots of the main pages are written to
//! `target/screenshots/<backend>/`.
//!
//! `scripts/test` installs what this needs (Debian's `chromium`, Korean fonts, and
//! `npm ci` in `tests/browser`); run alone, the test says what is missing.

mod support;

use std::path::{Path, PathBuf};

use ganglion_app::{Ctx, DemoShape, Silent};
use support::{backends, TestServer, ADMIN_PASSWORD};

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

fn screenshot_dir(backend: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("screenshots").join(backend)
}

/// Every browser test file: `*.test.mjs` in the browser folder, in name order.
fn browser_tests() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(browser_dir())
        .expect("the browser tests' folder")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".test.mjs"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_work_in_chromium() {
    let missing: Vec<String> = [
        (!chromium().exists()).then(|| {
            format!(
                "Chromium at {} (apt-get install chromium, or set CHROMIUM)",
                chromium().display()
            )
        }),
        (!browser_dir().join("node_modules/playwright-core").exists()).then(|| {
            format!(
                "playwright-core (npm ci --prefix {})",
                browser_dir().display()
            )
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(
        missing.is_empty(),
        "the browser tests need: {}. scripts/test installs them.",
        missing.join("; ")
    );
    for backend in backends() {
        let server = TestServer::start(backend).await;
        // The demo organization of `serve --demo`, built by the same use cases.
        let operator = Ctx::operator();
        server
            .app
            .fill_demo(&operator, DemoShape::default(), &Silent)
            .await
            .expect("the demo organization");
        server
            .app
            .appoint_demo_people(&operator)
            .await
            .expect("the demo people");
        server
            .app
            .play_demo_scenarios(&operator)
            .await
            .expect("the demo scenarios");
        let screenshots = screenshot_dir(backend.name());
        let output = tokio::process::Command::new("node")
            .arg("--test")
            .arg("--test-reporter=spec")
            .args(browser_tests())
            .current_dir(browser_dir())
            .env("GANGLION_URL", &server.base)
            .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("SCREENSHOT_DIR", &screenshots)
            .env("CHROMIUM", chromium())
            .output()
            .await
            .expect("node runs (install Node.js)");
        let report = String::from_utf8_lossy(&output.stdout);
        println!("{report}");
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        assert!(
            output.status.success(),
            "the browser tests failed on {}",
            backend.name()
        );
        assert!(
            screenshots.join("04-unit-cell.png").exists(),
            "screenshots are written"
        );
        server.stop().await;
    }
}

//! The test harness: a real server on port 0 over a fresh database, and a client that
//! speaks its API over real HTTP.

#![allow(dead_code)]

use ganglion_app::App;
use ganglion_testkit::{TestBackend, TestDatabase};
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[allow(unused_imports)]
pub use ganglion_testkit::backends;

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
/// The password of the accounts [`TestServer::appoint`] makes.
pub const OFFICIAL_PASSWORD: &str = "a long password";

/// The HTTP settings of a test server, given explicitly: rate limits far above what a
/// test sends (the rate-limit tests give their own).
pub fn test_settings() -> ganglion_web::Settings {
    ganglion_web::Settings {
        rate_limit: "100000/100000".parse().unwrap(),
        trusted_proxies: Vec::new(),
    }
}

pub struct TestServer {
    pub base: String,
    /// The token requests carry unless told otherwise: the administrator's.
    pub token: Option<String>,
    pub client: reqwest::Client,
    pub app: App,
    pub database: TestDatabase,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// The stable code of an error answer.
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error body: {}", self.text))
            .to_owned()
    }
}

impl TestServer {
    /// A server on an initialized, empty organization with the party template.
    pub async fn start(backend: TestBackend) -> Self {
        Self::start_with(backend, None, test_settings()).await
    }

    /// The same, reading the time from a clock the test moves.
    pub async fn start_with_clock(backend: TestBackend, clock: ganglion_app::ManualClock) -> Self {
        Self::start_with(backend, Some(clock), test_settings()).await
    }

    /// The same, reading the time from `clock` if given, with these HTTP settings.
    pub async fn start_with(
        backend: TestBackend,
        clock: Option<ganglion_app::ManualClock>,
        settings: ganglion_web::Settings,
    ) -> Self {
        // The server's own log of failures shows with a failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn,sqlx=error")
            .with_test_writer()
            .try_init();
        let database = TestDatabase::new(backend);
        let mut app = App::init(&database.url, "party").await.expect("init");
        if let Some(clock) = clock {
            app = app.with_clock(clock);
        }
        app.create_admin(ADMIN_PASSWORD)
            .await
            .expect("an administrator");
        let mut server = Self::serve_with(app, database, settings).await;
        server.token = Some(server.login("admin", ADMIN_PASSWORD).await);
        server
    }

    /// Signs in and returns the bearer token.
    pub async fn login(&self, login: &str, password: &str) -> String {
        let answer = self
            .send_as(
                None,
                Method::POST,
                "/api/v1/sessions",
                Some((
                    "application/json",
                    serde_json::json!({"login": login, "password": password})
                        .to_string()
                        .into_bytes(),
                )),
                &[],
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.json()["token"].as_str().unwrap().to_owned()
    }

    /// The same server, with requests carrying another token (or none).
    pub fn as_caller(&self, token: Option<String>) -> Caller<'_> {
        Caller {
            server: self,
            token,
        }
    }

    pub async fn send_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some((content_type, bytes)) = body {
            request = request.header("content-type", content_type).body(bytes);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the server answers");
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            text: response.text().await.unwrap(),
        }
    }

    pub async fn serve(app: App, database: TestDatabase) -> Self {
        Self::serve_with(app, database, test_settings()).await
    }

    /// Serves `app` with these HTTP settings.
    pub async fn serve_with(
        app: App,
        database: TestDatabase,
        settings: ganglion_web::Settings,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn({
            let app = app.clone();
            async move {
                ganglion_web::serve_with(listener, app, settings, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            }
        });
        Self {
            base,
            token: None,
            client: reqwest::Client::new(),
            app,
            database,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        self.app.close().await;
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> Answer {
        self.send_as(self.token.as_deref(), method, path, body, headers)
            .await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(
            Method::POST,
            path,
            Some(("application/json", body.to_string().into_bytes())),
            &[],
        )
        .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) -> Answer {
        self.send(Method::POST, path, Some((content_type, body.into())), &[])
            .await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Answer {
        self.send(
            Method::PATCH,
            path,
            Some(("application/json", body.to_string().into_bytes())),
            &[],
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, None, &[]).await
    }

    /// Creates a unit and returns its id; panics unless it is created.
    pub async fn unit(&self, parent: Option<&str>, kind: &str, code: &str) -> String {
        let answer = self
            .post(
                "/api/v1/units",
                &serde_json::json!({"parent": parent, "kind": kind, "name": format!("{code} committee"), "code": code}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.json()["id"].as_str().unwrap().to_owned()
    }

    /// Creates a person with a post in `unit` and an account whose password is
    /// [`OFFICIAL_PASSWORD`], all through the API; returns the person's id.
    pub async fn appoint(&self, name: &str, unit: &str, role: &str, login: &str) -> String {
        let person = self
            .post("/api/v1/people", &serde_json::json!({"name": name}))
            .await;
        assert_eq!(person.status, StatusCode::CREATED, "{}", person.text);
        let person = person.json()["id"].as_str().unwrap().to_owned();
        let post = self
            .post(
                "/api/v1/posts",
                &serde_json::json!({"person": person, "unit": unit, "role": role, "start": "2024-01-01"}),
            )
            .await;
        assert_eq!(post.status, StatusCode::CREATED, "{}", post.text);
        let account = self
            .post(
                "/api/v1/accounts",
                &serde_json::json!({"login": login, "password": OFFICIAL_PASSWORD, "person": person}),
            )
            .await;
        assert_eq!(account.status, StatusCode::CREATED, "{}", account.text);
        person
    }

    /// The whole organization as exported CSV: a fingerprint of the tree.
    pub async fn export(&self) -> String {
        let answer = self.get("/api/v1/export/units").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.text
    }
}

/// Requests as a particular caller.
pub struct Caller<'a> {
    pub server: &'a TestServer,
    pub token: Option<String>,
}

impl Caller<'_> {
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Answer {
        let body = body.map(|b| ("application/json", b.to_string().into_bytes()));
        self.server
            .send_as(self.token.as_deref(), method, path, body, &[])
            .await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(Method::POST, path, Some(body)).await
    }
}

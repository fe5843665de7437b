#![allow(dead_code)]
//! What the targets share: an app over a fresh SQLite database with a small
//! organization, made once per fuzzing process, and a runtime to drive it.

use std::sync::OnceLock;

use ganglion_app::{App, Ctx, Silent};

pub struct World {
    pub runtime: tokio::runtime::Runtime,
    pub app: App,
    pub programme: String,
    _dir: tempfile::TempDir,
}

pub const ORGANIZATION: &str = "code,parent_code,kind,name,tags
C,,centre,Centre,
P1,C,province,North,
K1,P1,city_county,County,
F1,K1,primary,Works,
";

pub const ADMIN_PASSWORD: &str = "admin-password-for-fuzzing";

pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = tempfile::tempdir().expect("a temporary folder");
        let url = format!("sqlite://{}", dir.path().join("fuzz.db").display());
        let (app, programme) = runtime.block_on(async {
            let app = App::init(&url, "party").await.expect("init");
            app.create_admin(ADMIN_PASSWORD).await.expect("an administrator");
            let ctx = Ctx::operator();
            app.import_units_csv(&ctx, ORGANIZATION.as_bytes(), &Silent)
                .await
                .expect("the organization");
            let centre = app.unit_by_code(&ctx, "C").await.expect("the centre").id;
            let programme = app
                .programmes()
                .create(
                    &ctx,
                    ganglion_app::NewProgramme {
                        owner: centre,
                        title: "Factories".into(),
                        start_year: 2026,
                        years: 3,
                        description: None,
                        metrics: None,
                    },
                )
                .await
                .expect("a programme")
                .id;
            (app, programme)
        });
        World {
            runtime,
            app,
            programme,
            _dir: dir,
        }
    })
}

//! The CSV importers (units, people, programme projects) through their use cases, on a
//! real SQLite database: any file is imported whole or refused with a 4xx, never a
//! panic. The first byte picks the importer.
#![no_main]

mod common;

use ganglion_app::{Ctx, Silent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, file)) = data.split_first() else {
        return;
    };
    let world = common::world();
    let ctx = Ctx::operator();
    let result = world.runtime.block_on(async {
        match which % 3 {
            0 => world
                .app
                .import_units_csv(&ctx, file, &Silent)
                .await
                .map(drop),
            1 => world.app.import_people_csv(&ctx, file).await.map(drop),
            _ => world
                .app
                .programmes()
                .import_projects(&ctx, &world.programme, file)
                .await
                .map(drop),
        }
    });
    if let Err(error) = result {
        let status = error.code().status();
        assert!(
            (400..500).contains(&status),
            "a file was refused with {status}: {error}"
        );
    }
});

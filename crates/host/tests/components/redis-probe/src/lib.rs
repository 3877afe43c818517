//! On each message: wait if asked (`sleep:<ms>`), fail if asked (`fail`), else RPUSH the
//! payload to the list named by the `record_list` variable at `redis_address`.

use spin_sdk::redis::{Connection, RedisParameter};
use spin_sdk::{redis_component, variables};

#[redis_component]
fn on_message(message: bytes::Bytes) -> anyhow::Result<()> {
    let text = String::from_utf8_lossy(&message).to_string();
    if let Some(ms) = text.strip_prefix("sleep:") {
        std::thread::sleep(std::time::Duration::from_millis(ms.parse()?));
    }
    if text == "fail" {
        anyhow::bail!("asked to fail");
    }
    // The first characters are enough to recognise a message; some tests send large ones.
    println!("got {}", text.chars().take(40).collect::<String>());
    let conn = Connection::open(&variables::get("redis_address")?)?;
    let list = variables::get("record_list")?;
    conn.execute(
        "RPUSH",
        &[
            RedisParameter::Binary(list.into_bytes()),
            RedisParameter::Binary(message.to_vec()),
        ],
    )?;
    Ok(())
}

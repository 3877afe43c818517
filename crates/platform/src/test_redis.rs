//! For unit tests of the Lua that Redis runs: a real redis-server of the test's own, driven
//! with redis-cli (the components' connection exists only inside a Spin host).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use domain::delivery::Reply;

/// A redis-server on a Unix socket of its own, stopped when dropped.
pub struct Server {
    child: Child,
    socket: PathBuf,
}

impl Server {
    pub fn start() -> Server {
        // Tests run in parallel threads of one process: each server gets its own folder.
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "platform-redis-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("redis.sock");
        let child = Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--save",
                "",
                "--appendonly",
                "no",
                "--unixsocket",
            ])
            .arg(&socket)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server) runs");
        let server = Server { child, socket };
        for _ in 0..100 {
            if server.cli(&["PING"]).is_ok_and(|out| out == "PONG") {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not answer on {:?}", server.socket);
    }

    /// redis-cli's answer to one command, one value a line.
    pub fn cli<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Result<String, String> {
        let out = self
            .command()
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if out.status.success() && !text.starts_with("ERR") {
            Ok(text)
        } else {
            Err(format!("{text} {}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// EVAL of `script` on `keys` and `args`.
    pub fn eval(&self, script: &str, keys: &[String], args: &[String]) -> Result<String, String> {
        self.cli(&eval_call(script, keys, args))
    }

    /// `eval`'s answer as a component gets it through Spin: nested arrays flattened in order.
    pub fn eval_flat(&self, script: &str, keys: &[String], args: &[String]) -> Vec<Reply> {
        let mut call = vec!["--json".to_owned()];
        call.extend(eval_call(script, keys, args));
        let json: serde_json::Value = serde_json::from_str(&self.cli(&call).unwrap()).unwrap();
        let mut out = Vec::new();
        flatten(json, &mut out);
        out
    }

    /// A redis-cli subscribed to `channel`; what it heard comes with `Subscriber::heard`.
    pub fn subscribe(&self, channel: &str) -> Subscriber {
        let child = self
            .command()
            .args(["SUBSCRIBE", channel])
            .stdout(Stdio::piped())
            .spawn()
            .expect("redis-cli runs");
        let subscriber = Subscriber { child };
        // Listening once the server counts it among the channel's subscribers.
        for _ in 0..100 {
            if self
                .cli(&["PUBSUB", "NUMSUB", channel])
                .is_ok_and(|n| n.ends_with('1'))
            {
                return subscriber;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-cli did not subscribe to {channel}");
    }

    fn command(&self) -> Command {
        let mut command = Command::new("redis-cli");
        command.arg("-s").arg(&self.socket);
        command
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = self.socket.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

pub struct Subscriber {
    child: Child,
}

impl Subscriber {
    /// The messages heard so far, in order (the subscriber stops).
    pub fn heard(mut self) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(200));
        let _ = self.child.kill();
        let out = self.child.wait_with_output().expect("redis-cli's output");
        let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        // Each message comes as three lines: "message", the channel, the payload.
        lines
            .windows(3)
            .filter(|w| w[0] == "message")
            .map(|w| w[2].clone())
            .collect()
    }
}

/// redis-cli's arguments for an EVAL.
fn eval_call(script: &str, keys: &[String], args: &[String]) -> Vec<String> {
    let mut call = vec!["EVAL".to_owned(), script.to_owned(), keys.len().to_string()];
    call.extend_from_slice(keys);
    call.extend_from_slice(args);
    call
}

fn flatten(value: serde_json::Value, out: &mut Vec<Reply>) {
    match value {
        serde_json::Value::Array(items) => items.into_iter().for_each(|v| flatten(v, out)),
        serde_json::Value::Null => out.push(Reply::Nil),
        serde_json::Value::Number(n) => out.push(Reply::Int(n.as_i64().expect("an integer"))),
        serde_json::Value::String(s) => out.push(Reply::Text(s)),
        other => panic!("no Redis reply looks like {other}"),
    }
}

//! Every example of README.md, deploy/README.md and requests.http, run as written against a
//! shop this test starts, and checked against what the text says it answers.
//!
//! **README.md and deploy/README.md.** Every ` ```sh ` block, in order, in one bash session
//! per file (a reader following the file in one terminal: variables such as `$id` or the
//! tokens of `. .spin/credentials.env` carry on), one command at a time, with the real curl.
//! The session's working directory is a sandbox laid out like the repository (`scripts/`,
//! `spin.toml`, `.spin/`), so paths work as written. curl is the real one behind a recording
//! shim: it sends `localhost:3000` and `127.0.0.1:3000` (where the READMEs say the shop
//! serves) to the shop the test started, and keeps each answer's head and body.
//!
//! What a command answers is in its `# -> ...` comment, on its last line or on the line right
//! after it: `-> 200`, `-> 202 Accepted, Location: /v1/api/orders/<id>, { "orderStatus":
//! "PLACED", ... }`. The status must be that one; a `Location:` must match (`<...>` stands for
//! any text, `$name` for the shell variable); the JSON after it is a pattern the answer's body
//! must match: an object's members must be there with matching values (it may have more), an
//! array with `...` must hold an element matching each one listed, an array without `...`
//! exactly those elements; `"<...>"` matches any value and `"$name"` the shell variable's
//! value. A command with curl and no `->` must answer 2xx. A GET that does not answer so yet is
//! asked again for up to 20 s (the README's "a few milliseconds later"); nothing else is
//! repeated.
//!
//! A `<name>` in a command is a value a reader pastes: the examples must show how to get it
//! instead (`id=$(curl ... | jq -r .id)`). The one exception is [`PASTED`], a section of the
//! README that is kept as it is.
//!
//! Commands that start a shop are not run as such; the test starts what they would have
//! started, with this run's runtime (spin-lite, or real Spin with `SPIN_BIN`), on the test's
//! own redis-server (`redis_url`), and the examples go on against it:
//! - `./scripts/up.sh ...` runs for real, with its tools stubbed: `scripts/setup.sh` does
//!   nothing, `cargo build` does nothing (the test built everything), `redis-cli ping`
//!   answers, and `target/release/spin-lite` records its arguments and `SPIN_VARIABLE_*`
//!   environment; the test then serves the app with exactly those (so `up.sh`'s handling of
//!   `--variable` and of `.spin/credentials.env` is what the examples see);
//! - `spin up ...` records the same (`-c` runs those components only: the README's split of
//!   the HTTP side from the workers runs as two processes);
//! - `kubectl create secret generic ...` records its literals, and `kubectl apply -f
//!   deploy/coffeeshop.yaml` serves the two SpinApps as `Shop::start_split` does, with the
//!   Secret's `staff_tokens`, `manager_tokens` and `operator_tokens` as their variables.
//!
//! Skipped, each with a note on stderr, because they need what a test does not have:
//! - every other `kubectl` command (`rollout status`, `get`, `describe`, `port-forward`,
//!   `exec`, `edit`, the autoscalers' `apply`): a Kubernetes cluster. The port-forward's part,
//!   reaching the shop at 127.0.0.1:3000, is played by curl's shim;
//! - `spin registry push`: an OCI registry;
//! - `spin build` and `cargo build`: the test built the components and the host already;
//!   `cargo bench`: a benchmark, not an example;
//! - `redis-server --daemonize yes`: the test runs its own redis-server;
//! - `./scripts/test.sh`: the whole suite, this test among it.
//!
//! Before a command that lists or replays dead letters, the test parks one (an event no
//! worker can read), as a shop that has run for a while may have.
//!
//! **requests.http.** Every request, from top to bottom, with REST Client's variables: the
//! file's own (`@base` is the test's shop, the pasted tokens are the test's), `{{$guid}}` and
//! named requests' answers. Each must name a route of the OpenAPI document (method and path)
//! and answer a status that document gives it, 2xx or a 409 of the order's state; every route
//! of the document must have a request; an `Idempotency-Key` must be fresh per send.
//!
//! **scripts/up.sh** also has a test of its own here: it says what it does with the elapsed
//! time, and `--no-build` skips cargo (or names what is not built).

use coffeeshop_tests::{
    runtime, Shop, HTTP_COMPONENTS, MANAGER_TOKEN, OPERATOR_TOKEN, STAFF_TOKEN, WORKER_CHANNELS,
    WORKER_COMPONENTS,
};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use test_support::{workspace_root, Host, Ready, Redis};

/// How long a GET that does not answer as written yet is asked again.
const SETTLE: Duration = Duration::from_secs(20);

/// Placeholders in a section kept as it is, and the value a reader pastes for each: (file,
/// section, placeholder).
const PASTED: &[(&str, &str, &str)] = &[(
    "README.md",
    "Durable events: nothing lost, nothing twice",
    // The id of a dead letter, as the command before it lists them.
    "<id>",
)];

/// One shop at a time: the machine is small, and each test starts several processes.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn readme_examples_answer_what_the_readme_says() {
    let _serial = one_at_a_time();
    run_document("README.md");
}

#[test]
fn deploy_readme_examples_answer_what_it_says() {
    let _serial = one_at_a_time();
    run_document("deploy/README.md");
}

// ---- Markdown and shell -------------------------------------------------------------------

/// A ` ```sh ` block: where it starts (the line after the fence) and under which heading.
struct Block {
    line: usize,
    section: String,
    text: String,
}

fn sh_blocks(doc: &str) -> Vec<Block> {
    let text = std::fs::read_to_string(workspace_root().join(doc)).unwrap();
    let mut blocks = Vec::new();
    let mut section = String::new();
    let mut current: Option<Block> = None;
    let mut other_fence = false;
    for (index, line) in text.lines().enumerate() {
        if let Some(block) = current.as_mut() {
            if line.trim_end() == "```" {
                blocks.push(current.take().unwrap());
            } else {
                block.text.push_str(line);
                block.text.push('\n');
            }
        } else if other_fence {
            other_fence = !line.starts_with("```");
        } else if line.trim_end() == "```sh" {
            current = Some(Block {
                line: index + 2,
                section: section.clone(),
                text: String::new(),
            });
        } else if line.starts_with("```") {
            other_fence = true;
        } else if line.starts_with('#') {
            section = line.trim_start_matches('#').trim().to_owned();
        }
    }
    assert!(current.is_none(), "{doc}: a ```sh block is not closed");
    blocks
}

/// One shell command of a block, as bash reads it (continuation lines and quoted newlines
/// included).
#[derive(Debug)]
struct ShellCommand {
    line: usize,
    /// As written, comments included (what the session runs).
    text: String,
    /// Without its comments.
    code: String,
    /// The `->` comment of its last line, or of the comment line right after it.
    expect: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Quote {
    Double,
    Paren,
}

/// Splits a block into commands: a command ends at the end of a line outside quotes and
/// parentheses, without a trailing backslash. `#` at the start of a word starts a comment.
fn shell_commands(block: &Block) -> Vec<ShellCommand> {
    let mut commands: Vec<ShellCommand> = Vec::new();
    let (mut text, mut code, mut comments) = (String::new(), String::new(), Vec::<String>::new());
    let mut stack: Vec<Quote> = Vec::new();
    let mut single = false;
    let mut start = block.line;
    let mut after_command = false;
    for (offset, line) in block.text.lines().enumerate() {
        if text.is_empty() {
            start = block.line + offset;
        }
        let chars: Vec<char> = line.chars().collect();
        let mut continued = false;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if single {
                single = c != '\'';
                code.push(c);
                i += 1;
                continue;
            }
            let in_double = stack.last() == Some(&Quote::Double);
            match c {
                '\\' if i + 1 == chars.len() => continued = true,
                '\\' => {
                    code.push(c);
                    code.push(chars[i + 1]);
                    i += 2;
                    continue;
                }
                '\'' if !in_double => single = true,
                '"' if in_double => {
                    stack.pop();
                }
                '"' => stack.push(Quote::Double),
                '$' if chars.get(i + 1) == Some(&'(') => {
                    stack.push(Quote::Paren);
                    code.push_str("$(");
                    i += 2;
                    continue;
                }
                '(' if !in_double => stack.push(Quote::Paren),
                ')' if !in_double && stack.last() == Some(&Quote::Paren) => {
                    stack.pop();
                }
                '#' if !in_double && (i == 0 || chars[i - 1].is_whitespace()) => {
                    comments.push(chars[i + 1..].iter().collect::<String>().trim().to_owned());
                    break;
                }
                _ => {}
            }
            code.push(c);
            i += 1;
        }
        text.push_str(line);
        text.push('\n');
        code.push('\n');
        if single || !stack.is_empty() || continued {
            continue;
        }
        let arrow = |c: &String| c.strip_prefix("->").map(|e| e.trim().to_owned());
        if code.trim().is_empty() {
            // A comment line (or a blank one): an answer of the command just before it.
            if let (true, Some(expect)) = (after_command, comments.iter().find_map(arrow)) {
                let previous = commands.last_mut().unwrap();
                assert!(
                    previous.expect.is_none(),
                    "line {start}: a second `->` for one command"
                );
                previous.expect = Some(expect);
            }
            after_command = false;
        } else {
            commands.push(ShellCommand {
                line: start,
                text: text.clone(),
                code: code.clone(),
                expect: comments.iter().find_map(arrow),
            });
            after_command = true;
        }
        text.clear();
        code.clear();
        comments.clear();
    }
    assert!(
        text.trim().is_empty(),
        "line {start}: a command is not complete at the end of its block"
    );
    commands
}

/// How many times `code` runs curl.
fn curl_words(code: &str) -> usize {
    let bytes = code.as_bytes();
    code.match_indices("curl")
        .filter(|(at, _)| {
            let before = at.checked_sub(1).map(|b| bytes[b]);
            let after = bytes.get(at + 4).copied();
            matches!(
                before,
                None | Some(b' ' | b'\t' | b'\n' | b';' | b'|' | b'&' | b'(')
            ) && matches!(after, None | Some(b' ' | b'\t' | b'\n'))
        })
        .count()
}

/// `<name>` placeholders in a command's code.
fn placeholders(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find('<') {
        let tail = &rest[at + 1..];
        let name: String = tail
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        if !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && tail[name.len()..].starts_with('>')
        {
            found.push(format!("<{name}>"));
        }
        rest = tail;
    }
    found
}

// ---- What a command answers ---------------------------------------------------------------

/// A `->` comment.
#[derive(Debug)]
struct Expect {
    status: u16,
    location: Option<String>,
    body: Option<Pattern>,
}

fn parse_expect(text: &str) -> Result<Expect, String> {
    let status = text
        .get(..3)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("`-> {text}` does not start with a status"))?;
    let rest = &text[3..];
    let (head, body) = match rest.find(['{', '[']) {
        Some(at) => (&rest[..at], Some(&rest[at..])),
        None => (rest, None),
    };
    let location = head.find("Location: ").map(|at| {
        head[at + "Location: ".len()..]
            .split(|c: char| c == ',' || c.is_whitespace())
            .next()
            .unwrap()
            .to_owned()
    });
    let body = body
        .map(|b| Parser::new(b).whole())
        .transpose()
        .map_err(|e| format!("the answer's pattern in `-> {text}`: {e}"))?;
    Ok(Expect {
        status,
        location,
        body,
    })
}

/// A part of a JSON answer, as the READMEs write one.
#[derive(Debug)]
enum Pattern {
    /// `"<...>"`: any value.
    Any,
    /// `"$name"`: the shell variable's value.
    Var(String),
    Exact(Value),
    Object(Vec<(String, Pattern)>),
    /// `more`: written with `...`, the answer may hold other elements, in any order.
    Array {
        items: Vec<Pattern>,
        more: bool,
    },
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser { text, at: 0 }
    }

    /// One value from the start of the text (the rest is prose).
    fn whole(mut self) -> Result<Pattern, String> {
        self.value()
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn skip_space(&mut self) {
        self.at = self.text.len() - self.rest().trim_start().len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        let found = self.rest().starts_with(token);
        if found {
            self.at += token.len();
        }
        found
    }

    fn value(&mut self) -> Result<Pattern, String> {
        self.skip_space();
        if self.eat("{") {
            let mut members = Vec::new();
            loop {
                if self.eat("}") {
                    return Ok(Pattern::Object(members));
                }
                if !self.eat("...") {
                    let Pattern::Exact(Value::String(key)) = self.string()? else {
                        return Err(format!("expected a member name at `{}`", self.rest()));
                    };
                    if !self.eat(":") {
                        return Err(format!("expected `:` at `{}`", self.rest()));
                    }
                    members.push((key, self.value()?));
                }
                if !self.eat(",") && !self.rest().trim_start().starts_with('}') {
                    return Err(format!("expected `,` or `}}` at `{}`", self.rest()));
                }
            }
        }
        if self.eat("[") {
            let (mut items, mut more) = (Vec::new(), false);
            loop {
                if self.eat("]") {
                    return Ok(Pattern::Array { items, more });
                }
                if self.eat("...") {
                    more = true;
                } else {
                    items.push(self.value()?);
                }
                if !self.eat(",") && !self.rest().trim_start().starts_with(']') {
                    return Err(format!("expected `,` or `]` at `{}`", self.rest()));
                }
            }
        }
        if self.rest().starts_with('"') {
            return self.string();
        }
        let token: String = self
            .rest()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "+-.".contains(*c))
            .collect();
        let value: Value = serde_json::from_str(&token)
            .map_err(|_| format!("not a JSON value at `{}`", self.rest()))?;
        self.at += token.len();
        Ok(Pattern::Exact(value))
    }

    fn string(&mut self) -> Result<Pattern, String> {
        self.skip_space();
        let rest = self.rest();
        let mut escaped = false;
        let end = rest
            .char_indices()
            .skip(1)
            .find(|&(_, c)| {
                let end = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                end
            })
            .map(|(i, _)| i + 1)
            .ok_or_else(|| format!("a string is not closed at `{rest}`"))?;
        let text: String = serde_json::from_str(&rest[..end]).map_err(|e| e.to_string())?;
        self.at += end;
        Ok(if text.starts_with('<') && text.ends_with('>') {
            Pattern::Any
        } else if let Some(name) = text.strip_prefix('$').filter(|n| is_identifier(n)) {
            Pattern::Var(name.to_owned())
        } else {
            Pattern::Exact(Value::String(text))
        })
    }
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Pattern {
    fn variables(&self, out: &mut Vec<String>) {
        match self {
            Pattern::Var(name) => out.push(name.clone()),
            Pattern::Object(members) => members.iter().for_each(|(_, p)| p.variables(out)),
            Pattern::Array { items, .. } => items.iter().for_each(|p| p.variables(out)),
            Pattern::Any | Pattern::Exact(_) => {}
        }
    }

    /// Why `value` (at JSON pointer `at`) does not match, if it does not.
    fn mismatch(&self, value: &Value, at: &str, vars: &HashMap<String, String>) -> Option<String> {
        let differs = || Some(format!("{at}: expected {self:?}, got {value}"));
        match self {
            Pattern::Any => None,
            Pattern::Var(name) => (value.as_str() != Some(vars[name].as_str()))
                .then(|| format!("{at}: expected ${name} ({:?}), got {value}", vars[name])),
            Pattern::Exact(expected) => {
                let same = match (expected.as_f64(), value.as_f64()) {
                    (Some(a), Some(b)) => a == b,
                    _ => expected == value,
                };
                if same {
                    None
                } else {
                    differs()
                }
            }
            Pattern::Object(members) => {
                let Some(object) = value.as_object() else {
                    return differs();
                };
                members
                    .iter()
                    .find_map(|(key, pattern)| match object.get(key) {
                        None => Some(format!("{at}/{key}: missing in {value}")),
                        Some(v) => pattern.mismatch(v, &format!("{at}/{key}"), vars),
                    })
            }
            Pattern::Array { items, more } => {
                let Some(array) = value.as_array() else {
                    return differs();
                };
                if *more {
                    items.iter().find_map(|pattern| {
                        let matched = array
                            .iter()
                            .any(|v| pattern.mismatch(v, at, vars).is_none());
                        (!matched)
                            .then(|| format!("{at}: no element matches {pattern:?} in {value}"))
                    })
                } else if array.len() != items.len() {
                    Some(format!(
                        "{at}: expected {} elements, got {value}",
                        items.len()
                    ))
                } else {
                    items
                        .iter()
                        .zip(array)
                        .enumerate()
                        .find_map(|(i, (p, v))| p.mismatch(v, &format!("{at}/{i}"), vars))
                }
            }
        }
    }
}

/// `$name`s in a Location template.
fn template_variables(template: &str) -> Vec<String> {
    template
        .split('$')
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| is_identifier(name))
        .collect()
}

/// Whether `value` matches a template: `$name` is the variable's value, `<...>` any text.
fn matches_template(template: &str, value: &str, vars: &HashMap<String, String>) -> bool {
    let mut expanded = template.to_owned();
    for name in template_variables(template) {
        expanded = expanded.replace(&format!("${name}"), &vars[&name]);
    }
    // Split at the `<...>` wildcards; the pieces must appear in order, the first at the start
    // and the last at the end.
    let mut pieces = Vec::new();
    let mut rest = expanded.as_str();
    while let Some(open) = rest.find('<') {
        let close = rest[open..].find('>').map_or(rest.len(), |c| open + c + 1);
        pieces.push(&rest[..open]);
        rest = &rest[close..];
    }
    pieces.push(rest);
    let Some(mut rest) = value.strip_prefix(pieces[0]) else {
        return false;
    };
    if pieces.len() == 1 {
        return rest.is_empty();
    }
    for piece in &pieces[1..pieces.len() - 1] {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.ends_with(pieces[pieces.len() - 1])
}

// ---- The sandbox and its stubs ------------------------------------------------------------

/// Notes what a stub does instead of its command (stderr and the run's list of skips).
const NOTE: &str = r#"note() { printf '%s\n' "$*" >>"$EXAMPLES_DIR/skipped"; printf '(tests/examples.rs: %s)\n' "$*" >&2; }
"#;

/// Keeps what a command would have started, for the test to start it: the tool, its
/// arguments and the SPIN_VARIABLE_* environment it would have had.
const RECORD: &str = r#"record() {
  local dir=$EXAMPLES_DIR/starts n v
  n=$(( $(cat "$dir/count" 2>/dev/null || echo 0) + 1 ))
  printf '%s\0' "$@" >"$dir/$n.args"
  : >"$dir/$n.env"
  for v in $(compgen -e); do
    case $v in SPIN_VARIABLE_*) printf '%s=%s\0' "$v" "${!v}" >>"$dir/$n.env" ;; esac
  done
  echo "$n" >"$dir/count"
}
"#;

const CURL: &str = r#"#!/usr/bin/env bash
# The examples' curl: the real one, sent to the shop the test started for the address the
# READMEs name, keeping each answer's head and body (as files N.head and N.out).
set -o pipefail
log=$EXAMPLES_DIR/curl
n=$(( $(cat "$log/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" >"$log/count"
addr=$(cat "$EXAMPLES_DIR/addr" 2>/dev/null || echo 127.0.0.1:9)
args=()
for arg in "$@"; do
  arg=${arg//localhost:3000/@shop@}
  arg=${arg//127.0.0.1:3000/@shop@}
  args+=("${arg//@shop@/$addr}")
done
printf '%s\0' "${args[@]}" >"$log/$n.args"
"$EXAMPLES_REAL_CURL" --max-time 30 -D "$log/$n.head" "${args[@]}" | tee "$log/$n.out"
"#;

const SPIN: &str = r#"case "$1" in
  up) record spin "$@"; note "spin up: the test serves what it would, with this run's runtime" ;;
  build) note "spin build: skipped, the test built every component already" ;;
  registry) note "spin registry $2: skipped, it needs an OCI registry" ;;
  *) echo "tests/examples.rs: spin $1 is not emulated" >&2; exit 1 ;;
esac
"#;

const KUBECTL: &str = r#"case "$1" in
  create) record kubectl "$@"; note "kubectl create $2: kept for the SpinApps the test starts" ;;
  apply) record kubectl "$@"; note "kubectl apply ${*:2}: the test serves the SpinApps of deploy/coffeeshop.yaml, skips the rest (no cluster)" ;;
  *) note "kubectl $1: skipped, it needs a cluster" ;;
esac
"#;

const CARGO: &str = r#"case "$1" in
  build) echo "cargo $*" >>"$EXAMPLES_DIR/cargo"; note "cargo build: skipped, the test built everything already" ;;
  *) note "cargo $1: skipped, not an example (run it yourself)" ;;
esac
"#;

const REDIS_CLI: &str = r#"if [ "${*: -1}" = ping ]; then echo PONG; else echo "tests/examples.rs: redis-cli $* is not emulated" >&2; exit 1; fi
"#;

const REDIS_SERVER: &str = r#"note "redis-server: skipped, the test runs its own"
"#;

const SPIN_LITE: &str = r#"record spin-lite "$@"; note "spin-lite up: the test serves what it would, with this run's runtime"
"#;

const TEST_SH: &str = r#"note "./scripts/test.sh: skipped, it runs every test (this one among them)"
"#;

const SETUP_SH: &str = r#"# Stub: the test machine has what the shop needs.
"#;

/// A directory laid out like the repository, for the examples to run in.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for sub in ["bin", "scripts", "target/release", "curl", "starts"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        let stub = |path: &str, body: &str| {
            let text =
                format!("#!/usr/bin/env bash\n# tests/examples.rs stub.\n{NOTE}{RECORD}{body}");
            write_executable(&root.join(path), &text);
        };
        write_executable(&root.join("bin/curl"), CURL);
        stub("bin/spin", SPIN);
        stub("bin/kubectl", KUBECTL);
        stub("bin/cargo", CARGO);
        stub("bin/redis-cli", REDIS_CLI);
        stub("bin/redis-server", REDIS_SERVER);
        stub("target/release/spin-lite", SPIN_LITE);
        stub("scripts/test.sh", TEST_SH);
        stub("scripts/setup.sh", SETUP_SH);
        let repo = workspace_root();
        for file in ["scripts/up.sh", "scripts/credentials.sh"] {
            let text = std::fs::read_to_string(repo.join(file)).unwrap();
            write_executable(&root.join(file), &text);
        }
        std::fs::copy(repo.join("spin.toml"), root.join("spin.toml")).unwrap();
        Sandbox { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// PATH with the stubs first.
    fn search_path(&self) -> String {
        format!(
            "{}:{}",
            self.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// How many curl calls were recorded so far.
    fn curl_count(&self) -> usize {
        count(&self.path().join("curl/count"))
    }

    fn curl_call(&self, n: usize) -> Call {
        let log = self.path().join("curl");
        let args = nul_separated(&log.join(format!("{n}.args")));
        let head = std::fs::read_to_string(log.join(format!("{n}.head"))).unwrap_or_default();
        let out = std::fs::read_to_string(log.join(format!("{n}.out"))).unwrap_or_default();
        Call::new(args, &head, &out)
    }

    fn start_count(&self) -> usize {
        count(&self.path().join("starts/count"))
    }

    fn start_record(&self, n: usize) -> (Vec<String>, Vec<(String, String)>) {
        let dir = self.path().join("starts");
        let args = nul_separated(&dir.join(format!("{n}.args")));
        let env = nul_separated(&dir.join(format!("{n}.env")))
            .into_iter()
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect();
        (args, env)
    }

    fn skipped(&self) -> String {
        std::fs::read_to_string(self.path().join("skipped")).unwrap_or_default()
    }
}

fn write_executable(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn count(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

fn nul_separated(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_terminator('\0')
        .map(str::to_owned)
        .collect()
}

/// The real curl (the first on PATH).
fn real_curl() -> PathBuf {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|dir| Path::new(dir).join("curl"))
        .find(|p| p.is_file())
        .expect("curl on PATH (the examples use it)")
}

/// One curl call of an example and its answer.
#[derive(Debug)]
struct Call {
    args: Vec<String>,
    status: Option<u16>,
    headers: Vec<(String, String)>,
    body: String,
}

impl Call {
    fn new(args: Vec<String>, head: &str, out: &str) -> Call {
        // The last head is the answer (after any 100 Continue).
        let last = head
            .split("\r\n\r\n")
            .filter(|h| h.starts_with("HTTP/"))
            .last()
            .unwrap_or("");
        let mut lines = last.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok());
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        // `curl -i` prints the heads before the body.
        let mut body = out;
        while body.starts_with("HTTP/") {
            body = body.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        }
        Call {
            args,
            status,
            headers,
            body: body.to_owned(),
        }
    }

    /// Whether it is a GET (asking again changes nothing).
    fn is_get(&self) -> bool {
        let mut args = self.args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "-X" | "--request" if args.next().map(String::as_str) != Some("GET") => {
                    return false;
                }
                "-d" | "--data" | "--data-raw" | "--data-binary" | "--data-urlencode"
                | "--json" | "-F" | "--form" | "-T" | "--upload-file" | "-I" | "--head" => {
                    return false
                }
                _ => {}
            }
        }
        true
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn check(&self, expect: Option<&Expect>, vars: &HashMap<String, String>) -> Result<(), String> {
        let Some(status) = self.status else {
            return Err("no answer".into());
        };
        let Some(expect) = expect else {
            return if (200..300).contains(&status) {
                Ok(())
            } else {
                Err(format!("answered {status}, not 2xx: {}", self.body))
            };
        };
        if status != expect.status {
            return Err(format!(
                "answered {status}, not {}: {}",
                expect.status, self.body
            ));
        }
        if let Some(template) = &expect.location {
            let location = self.header("location").unwrap_or("(none)");
            if !matches_template(template, location, vars) {
                return Err(format!("Location is {location}, not {template}"));
            }
        }
        if let Some(pattern) = &expect.body {
            let body: Value = serde_json::from_str(&self.body)
                .map_err(|e| format!("the answer is not JSON ({e}): {}", self.body))?;
            if let Some(why) = pattern.mismatch(&body, "", vars) {
                return Err(format!("the answer does not match: {why}"));
            }
        }
        Ok(())
    }
}

// ---- A bash session -----------------------------------------------------------------------

/// One bash process that runs commands one at a time, keeping its variables between them.
struct Bash {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

const MARK: char = '\u{1e}';

impl Bash {
    fn start(sandbox: &Sandbox) -> Bash {
        let mut child = Command::new("bash")
            .args(["--noprofile", "--norc"])
            .current_dir(sandbox.path())
            .env("PATH", sandbox.search_path())
            .env("EXAMPLES_DIR", sandbox.path())
            .env("EXAMPLES_REAL_CURL", real_curl())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bash");
        let stdin = child.stdin.take().unwrap();
        let (send, lines) = mpsc::channel();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || loop {
            let mut line = Vec::new();
            match stdout.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line)
                        .trim_end_matches('\n')
                        .to_owned();
                    if send.send(text).is_err() {
                        return;
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    return;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Bash {
            child,
            stdin,
            lines,
            stderr,
        }
    }

    /// Runs `text` (stdin from /dev/null) and returns its exit status and output.
    fn run(&mut self, text: &str) -> (i32, String) {
        let script = format!("{{\n{text}\n}} </dev/null\nprintf '\\n\\036%d\\n' $?\n");
        self.stdin.write_all(script.as_bytes()).unwrap();
        self.stdin.flush().unwrap();
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut output = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => match line.strip_prefix(MARK) {
                    Some(status) => return (status.parse().unwrap_or(-1), output),
                    None => {
                        output.push_str(&line);
                        output.push('\n');
                    }
                },
                Err(_) => panic!(
                    "bash gave no answer to {text:?} within 90 s (or ended: {:?}); output:\n{output}\nstderr:\n{}",
                    self.child.try_wait(),
                    self.stderr_tail()
                ),
            }
        }
    }

    /// A shell variable's value.
    fn var(&mut self, name: &str) -> String {
        let (_, out) = self.run(&format!("printf '%s' \"${name}\""));
        out.trim_end_matches('\n').to_owned()
    }

    fn stderr_tail(&self) -> String {
        let text = self.stderr.lock().unwrap();
        let start = text.len().saturating_sub(3000);
        let start = (start..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text[start..].to_owned()
    }
}

impl Drop for Bash {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- The shop the examples talk to --------------------------------------------------------

/// A process of the shop, and the components it runs (all when `None`).
struct Part {
    components: Option<Vec<String>>,
    host: Host,
}

/// The processes a document's commands started, on one redis-server.
struct Served {
    redis: Redis,
    parts: Vec<Part>,
    /// Where the curl shim sends the examples' requests.
    addr_file: PathBuf,
    /// The Secret `kubectl create secret` made (deploy/README.md).
    secret: BTreeMap<String, String>,
}

impl Served {
    fn new(sandbox: &Sandbox) -> Served {
        Served {
            redis: Redis::start().unwrap(),
            parts: Vec::new(),
            addr_file: sandbox.path().join("addr"),
            secret: BTreeMap::new(),
        }
    }

    /// Starts a process as `spin up` or `spin-lite up` with `args` (after `up`) and `env`
    /// would; it replaces the running processes it would clash with.
    fn up(&mut self, args: &[String], env: &[(String, String)]) {
        let mut variables = Vec::new();
        let mut components = Vec::new();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || args.next().cloned().expect("a value after an option");
            match arg.as_str() {
                "--variable" => variables.push(value()),
                "-c" | "--component-id" => components.push(value()),
                "-f" | "--from" => assert_eq!(value(), "spin.toml", "the manifest"),
                other => match other.strip_prefix("--variable=") {
                    Some(v) => variables.push(v.to_owned()),
                    None => panic!("`{other}`: an argument the test does not emulate"),
                },
            }
        }
        let components = (!components.is_empty()).then_some(components);
        self.start(components, &variables, env);
    }

    fn start(
        &mut self,
        components: Option<Vec<String>>,
        variables: &[String],
        env: &[(String, String)],
    ) {
        self.parts
            .retain(|part| match (&part.components, &components) {
                (Some(running), Some(new)) => !running.iter().any(|c| new.contains(c)),
                _ => false,
            });
        let mut args = vec![
            "--variable".to_owned(),
            format!("redis_url={}", self.redis.url()),
        ];
        for v in variables {
            args.extend(["--variable".to_owned(), v.clone()]);
        }
        for c in components.iter().flatten() {
            args.extend(["--component-id".to_owned(), c.clone()]);
        }
        let http = components
            .as_ref()
            .is_none_or(|cs| cs.iter().any(|c| HTTP_COMPONENTS.contains(&c.as_str())));
        let ready = if http {
            Ready::Http
        } else {
            Ready::Subscribed {
                redis: self.redis.addr(),
                channels: WORKER_CHANNELS.iter().map(|c| c.to_string()).collect(),
            }
        };
        let manifest = workspace_root().join("spin.toml");
        let host = Host::start_on(runtime(), &manifest, &args, env, ready)
            .unwrap_or_else(|e| panic!("starting the shop with {args:?}: {e:#}"));
        if http {
            std::fs::write(&self.addr_file, host.addr.to_string()).unwrap();
        }
        self.parts.push(Part { components, host });
    }

    /// What a recorded command would have started.
    fn apply(&mut self, args: &[String], env: &[(String, String)]) {
        match (args[0].as_str(), args.get(1).map(String::as_str)) {
            ("spin-lite" | "spin", Some("up")) => self.up(&args[2..], env),
            ("kubectl", Some("create")) => {
                assert_eq!(args[2..5], ["secret", "generic", "coffeeshop-credentials"]);
                for literal in &args[5..] {
                    let pair = literal.strip_prefix("--from-literal=").unwrap();
                    let (key, value) = pair.split_once('=').unwrap();
                    self.secret.insert(key.to_owned(), value.to_owned());
                }
            }
            ("kubectl", Some("apply")) => {
                if args.iter().any(|a| a == "deploy/coffeeshop.yaml") {
                    self.spin_apps();
                }
            }
            _ => panic!("no start is emulated for {args:?}"),
        }
    }

    /// deploy/coffeeshop.yaml's two SpinApps, with the variables its Secret gives them.
    fn spin_apps(&mut self) {
        let variables: Vec<String> = ["staff_tokens", "manager_tokens", "operator_tokens"]
            .iter()
            .map(|key| {
                let value = self.secret.get(*key).unwrap_or_else(|| {
                    panic!("the SpinApps read `{key}` from the Secret coffeeshop-credentials, which was not made before them")
                });
                format!("{key}={value}")
            })
            .collect();
        self.parts.clear();
        let http = HTTP_COMPONENTS.iter().map(|c| c.to_string()).collect();
        self.start(Some(http), &variables, &[]);
        let workers = WORKER_COMPONENTS.iter().map(|c| c.to_string()).collect();
        self.start(Some(workers), &variables, &[]);
    }

    fn dead_letters(&self) -> usize {
        let reply = self
            .redis
            .command(&["XLEN", "events:dead-letters"])
            .unwrap();
        reply.trim_start_matches(':').parse().unwrap()
    }

    /// Parks an event no worker can read, unless there is a dead letter already.
    fn ensure_dead_letter(&self) {
        if self.dead_letters() > 0 {
            return;
        }
        let stream = "events:kitchen_order_placed";
        self.redis
            .command(&["XADD", stream, "*", "event", "{not an event"])
            .unwrap();
        let start = Instant::now();
        while self.dead_letters() == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no dead letter after 20 s"
            );
            self.redis
                .command(&["PUBLISH", "kitchen_order_placed", "ring"])
                .unwrap();
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The oldest dead letter's id.
    fn oldest_dead_letter(&self) -> String {
        self.ensure_dead_letter();
        let reply = self
            .redis
            .command(&["XRANGE", "events:dead-letters", "-", "+", "COUNT", "1"])
            .unwrap();
        // [[<id>,[field,value,...]]]
        reply
            .trim_start_matches('[')
            .split(',')
            .next()
            .unwrap()
            .to_owned()
    }

    fn output(&self) -> String {
        self.parts
            .iter()
            .map(|p| p.host.output())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

// ---- Running a document -------------------------------------------------------------------

fn run_document(doc: &str) {
    for (tool, version) in [("jq", "--version"), ("openssl", "version")] {
        let found = Command::new(tool)
            .arg(version)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        assert!(
            found,
            "{tool} is not installed: the examples use it (scripts/setup.sh --test installs it)"
        );
    }
    runtime();
    let sandbox = Sandbox::new();
    let mut served = Served::new(&sandbox);
    let mut bash = Bash::start(&sandbox);
    let mut ran = Vec::new();
    for block in sh_blocks(doc) {
        for command in shell_commands(&block) {
            let place = format!("{doc}:{} ({})", command.line, block.section);
            run_command(&mut bash, &mut served, &sandbox, doc, &block, &command)
                .unwrap_or_else(|why| {
                    panic!(
                        "{place}: {why}\ncommand:\n{}\nbash stderr (end):\n{}\nshop output (end):\n{}",
                        command.text,
                        bash.stderr_tail(),
                        tail(&served.output(), 40)
                    )
                });
            let first = command.text.lines().next().unwrap_or_default();
            let first: String = first.chars().take(90).collect();
            let checked = match (&command.expect, curl_words(&command.code)) {
                (Some(e), _) => format!("-> {}", e.chars().take(40).collect::<String>()),
                (None, 0) => "ran".to_owned(),
                (None, _) => "-> 2xx".to_owned(),
            };
            ran.push(format!("  {doc}:{} {first}  [{checked}]", command.line));
        }
    }
    test_support::report(&format!(
        "{doc}: {} commands ran as written:\n{}\ndone otherwise:\n{}",
        ran.len(),
        ran.join("\n"),
        sandbox.skipped()
    ));
}

fn run_command(
    bash: &mut Bash,
    served: &mut Served,
    sandbox: &Sandbox,
    doc: &str,
    block: &Block,
    command: &ShellCommand,
) -> Result<(), String> {
    let mut text = command.text.clone();
    for placeholder in placeholders(&command.code) {
        let pasted = PASTED.contains(&(doc, block.section.as_str(), placeholder.as_str()));
        if !pasted {
            return Err(format!(
                "`{placeholder}` is for the reader to fill in: show how they get it instead \
                 (e.g. `id=$(curl ... | jq -r .id)`)"
            ));
        }
        text = text.replace(&placeholder, &served.oldest_dead_letter());
    }
    if command.code.contains("/dead-letters") {
        served.ensure_dead_letter();
    }
    let expect = command.expect.as_deref().map(parse_expect).transpose()?;
    let curls = curl_words(&command.code);
    let started = Instant::now();
    loop {
        let (first_call, first_start) = (sandbox.curl_count(), sandbox.start_count());
        let (status, output) = bash.run(&text);
        for n in first_start + 1..=sandbox.start_count() {
            let (args, env) = sandbox.start_record(n);
            served.apply(&args, &env);
        }
        if status != 0 {
            return Err(format!("exited with {status}; output:\n{output}"));
        }
        let calls: Vec<Call> = (first_call + 1..=sandbox.curl_count())
            .map(|n| sandbox.curl_call(n))
            .collect();
        if calls.len() != curls {
            return Err(format!("ran curl {} times, not {curls}", calls.len()));
        }
        let Some((last, before)) = calls.split_last() else {
            return match &expect {
                Some(_) => Err("a `->` on a command that runs no curl".into()),
                None => Ok(()),
            };
        };
        let mut wanted = Vec::new();
        if let Some(e) = &expect {
            e.body.iter().for_each(|p| p.variables(&mut wanted));
            wanted.extend(e.location.iter().flat_map(|l| template_variables(l)));
        }
        let vars: HashMap<String, String> = wanted
            .into_iter()
            .map(|name| {
                let value = bash.var(&name);
                (name, value)
            })
            .collect();
        let result = before
            .iter()
            .try_for_each(|call| call.check(None, &vars))
            .and_then(|()| last.check(expect.as_ref(), &vars));
        match result {
            Ok(()) => return Ok(()),
            Err(_) if calls.iter().all(Call::is_get) && started.elapsed() < SETTLE => {
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(why) => return Err(why),
        }
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// ---- scripts/up.sh ------------------------------------------------------------------------

/// Runs the sandbox's copy of scripts/up.sh with `args`: its exit status and output.
fn up_sh(sandbox: &Sandbox, args: &[&str]) -> (bool, String) {
    let out = Command::new("./scripts/up.sh")
        .args(args)
        .current_dir(sandbox.path())
        .env("PATH", sandbox.search_path())
        .env("EXAMPLES_DIR", sandbox.path())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn up_sh_says_each_step_and_restarts_without_building() {
    let sandbox = Sandbox::new();
    let root = sandbox.path();
    let cargo_runs = || std::fs::read_to_string(root.join("cargo")).unwrap_or_default();

    // --no-build with nothing built: it names what is missing and starts nothing.
    let (ok, out) = up_sh(&sandbox, &["--no-build"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("target/wasm32-wasip2/release/counter_api.wasm"),
        "{out}"
    );
    assert!(out.contains("without --no-build"), "{out}");
    assert_eq!(sandbox.start_count(), 0);
    assert_eq!(cargo_runs(), "");

    // A build: both cargo builds, each step with the seconds since the start.
    let (ok, out) = up_sh(&sandbox, &["--variable", "auto_fulfill=false"]);
    assert!(ok, "{out}");
    assert_eq!(cargo_runs().lines().count(), 2, "{}", cargo_runs());
    let steps: Vec<&str> = out.lines().filter(|l| l.contains("] up: ")).collect();
    for step in [
        "up: building components",
        "up: building the host",
        "up: redis-server",
        "up: credentials",
        "up: serving",
    ] {
        assert!(
            steps.iter().any(|l| l.contains(step)),
            "no `{step}` in:\n{out}"
        );
    }
    for line in &steps {
        let elapsed = line.strip_prefix('[').and_then(|l| l.split_once("s] up: "));
        let seconds = elapsed.map(|(s, _)| s.trim());
        assert!(
            seconds.is_some_and(|s| s.parse::<u64>().is_ok()),
            "`{line}` does not start with the elapsed seconds"
        );
    }
    let (args, env) = sandbox.start_record(1);
    assert_eq!(
        args,
        [
            "spin-lite",
            "up",
            "-f",
            "spin.toml",
            "--variable",
            "auto_fulfill=false"
        ]
    );
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    for name in [
        "SPIN_VARIABLE_STAFF_TOKENS",
        "SPIN_VARIABLE_MANAGER_TOKENS",
        "SPIN_VARIABLE_OPERATOR_TOKENS",
    ] {
        assert!(names.contains(&name), "{name} not passed on: {names:?}");
    }

    // --no-build with everything built: no cargo, and a --variable wins over the credentials
    // file (the host would take SPIN_VARIABLE_STAFF_TOKENS first).
    let sources = std::fs::read_to_string(root.join("spin.toml")).unwrap();
    for source in sources
        .lines()
        .filter_map(|l| l.strip_prefix("source = \""))
        .filter_map(|l| l.strip_suffix('"'))
    {
        std::fs::create_dir_all(root.join(source).parent().unwrap()).unwrap();
        std::fs::write(root.join(source), b"").unwrap();
    }
    let (ok, out) = up_sh(
        &sandbox,
        &["--no-build", "--variable=staff_tokens=ana:t0ken"],
    );
    assert!(ok, "{out}");
    assert!(out.contains("--no-build"), "{out}");
    assert_eq!(
        cargo_runs().lines().count(),
        2,
        "no build: {}",
        cargo_runs()
    );
    let (args, env) = sandbox.start_record(2);
    assert_eq!(
        args,
        [
            "spin-lite",
            "up",
            "-f",
            "spin.toml",
            "--variable=staff_tokens=ana:t0ken"
        ]
    );
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    assert!(!names.contains(&"SPIN_VARIABLE_STAFF_TOKENS"), "{names:?}");
    assert!(names.contains(&"SPIN_VARIABLE_MANAGER_TOKENS"), "{names:?}");
}

// ---- requests.http ------------------------------------------------------------------------

/// One request of requests.http, before its variables are filled in.
struct FileRequest {
    line: usize,
    title: String,
    name: Option<String>,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: String,
}

fn parse_requests(text: &str) -> (BTreeMap<String, String>, Vec<FileRequest>) {
    let mut variables = BTreeMap::new();
    let mut requests = Vec::new();
    let all: Vec<&str> = text.lines().collect();
    let mut lines = text.lines().enumerate().peekable();
    let mut title = String::new();
    while let Some((index, line)) = lines.next() {
        let trimmed = line.trim();
        if let Some(t) = trimmed.strip_prefix("###") {
            // A title may go on over several ### lines: its first one names the request.
            let continued = index > 0 && all[index - 1].trim_start().starts_with("###");
            if !continued {
                title = t.trim().to_owned();
            }
            continue;
        }
        if let Some((name, value)) = trimmed.strip_prefix('@').and_then(|v| v.split_once('=')) {
            variables.insert(name.trim().to_owned(), value.trim().to_owned());
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("//") {
            continue;
        }
        // A request line: the # @name before it, the headers after it, then the body.
        let name = all[..index]
            .iter()
            .rev()
            .take_while(|l| l.trim().starts_with('#') && !l.trim().starts_with("###"))
            .find_map(|l| {
                l.trim()
                    .strip_prefix("# @name ")
                    .map(|n| n.trim().to_owned())
            });
        let (method, url) = trimmed.split_once(' ').unwrap_or_else(|| {
            panic!(
                "requests.http:{}: `{trimmed}` is no request line",
                index + 1
            )
        });
        let url = url.trim().trim_end_matches(" HTTP/1.1").to_owned();
        let mut headers = Vec::new();
        while let Some((_, l)) = lines.next_if(|(_, l)| !l.trim().is_empty()) {
            let (k, v) = l.split_once(':').unwrap();
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        let mut body = String::new();
        while let Some((_, l)) = lines.next_if(|(_, l)| !l.trim_start().starts_with("###")) {
            body.push_str(l);
            body.push('\n');
        }
        requests.push(FileRequest {
            line: index + 1,
            title: title.clone(),
            name,
            method: method.to_owned(),
            url,
            headers,
            body: body.trim().to_owned(),
        });
    }
    (variables, requests)
}

/// A fresh random UUID (version 4), as REST Client's `{{$guid}}`.
fn guid() -> String {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut bytes)
        .unwrap();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A JSONPath of the form `$.a.b[0].c`.
fn json_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = value;
    let rest = path.strip_prefix('$')?;
    for part in rest.split('.').skip(1) {
        let (key, indexes) = part.split_once('[').unwrap_or((part, ""));
        if !key.is_empty() {
            current = current.get(key)?;
        }
        for index in indexes.split('[').filter(|i| !i.is_empty()) {
            current = current.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(current)
}

/// Fills in `{{...}}`: file variables, `$guid`, and named requests' answers.
fn fill(
    text: &str,
    variables: &BTreeMap<String, String>,
    answers: &HashMap<String, Value>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find("}}")
            .ok_or_else(|| format!("`{{{{` not closed in `{text}`"))?;
        let inner = rest[open + 2..open + close].trim();
        let value = if inner == "$guid" {
            guid()
        } else if let Some((name, path)) = inner.split_once(".response.body.") {
            let answer = answers
                .get(name)
                .ok_or_else(|| format!("`{inner}`: no request named {name} was sent before"))?;
            match json_path(answer, path) {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => return Err(format!("`{inner}`: not in {name}'s answer {answer}")),
            }
        } else {
            let value = variables
                .get(inner)
                .ok_or_else(|| format!("`{{{{{inner}}}}}` is no variable of the file"))?;
            fill(value, variables, answers)?
        };
        out.push_str(&value);
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The OpenAPI document's operations: (method, path template) and the statuses each answers.
fn openapi_operations() -> BTreeMap<(String, String), Vec<u16>> {
    let text = std::fs::read_to_string(workspace_root().join("web/v1/api/openapi.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut operations = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let statuses = operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .filter_map(|s| s.parse().ok())
                .collect();
            operations.insert((method.to_uppercase(), path.clone()), statuses);
        }
    }
    operations
}

fn route_matches(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
}

#[test]
fn requests_http_sends_only_routes_that_exist_and_each_answers() {
    let _serial = one_at_a_time();
    let text = std::fs::read_to_string(workspace_root().join("requests.http")).unwrap();
    let (mut variables, requests) = parse_requests(&text);
    let operations = openapi_operations();

    let shop = Shop::start(&[]);
    // What a user pastes or has: the shop's address and tokens.
    for (name, value) in [
        ("base", shop.url("")),
        ("staffToken", STAFF_TOKEN.to_owned()),
        ("managerToken", MANAGER_TOKEN.to_owned()),
        ("operatorToken", OPERATOR_TOKEN.to_owned()),
    ] {
        assert!(variables.contains_key(name), "requests.http has no @{name}");
        variables.insert(name.to_owned(), value);
    }
    // The replay and purge requests need a dead letter each.
    for _ in 0..2 {
        shop.redis
            .command(&[
                "XADD",
                "events:kitchen_order_placed",
                "*",
                "event",
                "{not an event",
            ])
            .unwrap();
    }
    let start = Instant::now();
    while runs_dead_letters(&shop) < 2 {
        assert!(start.elapsed() < Duration::from_secs(20), "no dead letter");
        shop.redis
            .command(&["PUBLISH", "kitchen_order_placed", "ring"])
            .unwrap();
        std::thread::sleep(Duration::from_millis(250));
    }

    let mut answers: HashMap<String, Value> = HashMap::new();
    let mut covered = Vec::new();
    let mut sent = Vec::new();
    for request in &requests {
        let place = format!("requests.http:{} ({})", request.line, request.title);
        let fill =
            |t: &str| fill(t, &variables, &answers).unwrap_or_else(|e| panic!("{place}: {e}"));
        for (header, value) in &request.headers {
            if header.eq_ignore_ascii_case("idempotency-key") {
                assert_eq!(
                    value, "{{$guid}}",
                    "{place}: a fresh Idempotency-Key per send"
                );
            }
        }
        let url = fill(&request.url);
        let path = url
            .strip_prefix(&shop.url(""))
            .unwrap_or_else(|| panic!("{place}: {url} is not on {{{{base}}}}"));
        let path = path.split('?').next().unwrap();
        let path = if path.is_empty() { "/" } else { path };
        let (operation, statuses) = operations
            .iter()
            .find(|((method, template), _)| {
                *method == request.method && route_matches(template, path)
            })
            .unwrap_or_else(|| {
                panic!(
                    "{place}: {} {path} is no route of the OpenAPI document",
                    request.method
                )
            });
        covered.push(operation.clone());

        let headers: Vec<(String, String)> = request
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), fill(v)))
            .collect();
        let header_refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body = fill(&request.body);
        let reply = test_support::http(
            &request.method,
            &url,
            &header_refs,
            (!body.is_empty()).then_some(body.as_bytes()),
        )
        .unwrap();
        assert!(
            statuses.contains(&reply.status),
            "{place}: {} is not an answer the OpenAPI document gives {operation:?}: {}",
            reply.status,
            reply.body
        );
        assert!(
            (200..300).contains(&reply.status) || reply.status == 409,
            "{place}: answered {}: {}",
            reply.status,
            reply.body
        );
        if let Some(name) = &request.name {
            answers.insert(name.clone(), serde_json::from_str(&reply.body).unwrap());
        }
        sent.push(format!(
            "  {place}: {} {path} -> {}",
            request.method, reply.status
        ));
    }
    test_support::report(&format!(
        "requests.http: {} requests sent:\n{}",
        sent.len(),
        sent.join("\n")
    ));
    let missing: Vec<_> = operations.keys().filter(|o| !covered.contains(o)).collect();
    assert!(
        missing.is_empty(),
        "requests.http has no request for {missing:?}"
    );
}

fn runs_dead_letters(shop: &Shop) -> usize {
    let reply = shop
        .redis
        .command(&["XLEN", "events:dead-letters"])
        .unwrap();
    reply.trim_start_matches(':').parse().unwrap()
}

#[test]
fn the_readers_conventions_are_understood() {
    let block = Block {
        line: 1,
        section: "s".into(),
        text: concat!(
            "# a comment\n",
            "id=$(curl -s x -d '{\n",
            "  \"a\": 1 }' | jq -r .id)\n",
            "# -> 202 Accepted, Location: /v1/api/orders/<id>, { \"a\": \"<n>\", ... }\n",
            "curl -s \"x/$id\" \\\n",
            "  -H 'k: v'            # -> 200 [{ \"id\": \"$id\" }, ...] later\n",
            "echo '#' \"a # b\" # not -> an answer\n",
            "\n",
            "# -> 500 (after a blank line: nobody's)\n",
        )
        .into(),
    };
    let commands = shell_commands(&block);
    assert_eq!(commands.len(), 3, "{commands:#?}");
    assert_eq!(commands[0].line, 2);
    assert_eq!(curl_words(&commands[0].code), 1);
    assert!(commands[0]
        .expect
        .as_deref()
        .unwrap()
        .starts_with("202 Accepted"));
    assert_eq!(commands[1].line, 5);
    assert!(commands[1].expect.as_deref().unwrap().starts_with("200 ["));
    assert_eq!(commands[2].expect, None);
    assert_eq!(placeholders("curl x/<id>/replay a<b c>"), ["<id>"]);

    let vars = HashMap::from([("id".to_owned(), "42".to_owned())]);
    let expect = parse_expect(commands[1].expect.as_deref().unwrap()).unwrap();
    let pattern = expect.body.unwrap();
    let answer = serde_json::json!([{ "id": "7" }, { "id": "42", "more": true }]);
    assert_eq!(pattern.mismatch(&answer, "", &vars), None);
    assert!(pattern
        .mismatch(&serde_json::json!([{ "id": "7" }]), "", &vars)
        .is_some());
    let exact = Parser::new(r#"{ "roles": ["staff"], "n": 2 }"#)
        .whole()
        .unwrap();
    let answer = serde_json::json!({ "roles": ["staff"], "n": 2.0, "name": "x" });
    assert_eq!(exact.mismatch(&answer, "", &vars), None);
    let answer = serde_json::json!({ "roles": ["staff", "manager"], "n": 2 });
    assert!(exact.mismatch(&answer, "", &vars).is_some());

    let expect = parse_expect(commands[0].expect.as_deref().unwrap()).unwrap();
    assert_eq!(expect.status, 202);
    let location = expect.location.unwrap();
    assert!(matches_template(&location, "/v1/api/orders/abc", &vars));
    assert!(!matches_template(&location, "/v1/api/other/abc", &vars));
    assert!(matches_template("/o/$id", "/o/42", &vars));
    assert!(!matches_template("/o/$id", "/o/421", &vars));
}

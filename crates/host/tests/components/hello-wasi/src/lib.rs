//! The hello component on spin-sdk's wasi:http types directly (no conversion of the request
//! into spin-sdk's `Request`): what the host's benchmark uses to measure the host's own cost
//! next to a guest that does as little as an HTTP handler can.

use spin_sdk::http::{Fields, IncomingRequest, OutgoingResponse, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
async fn handle(_req: IncomingRequest, out: ResponseOutparam) {
    const BODY: &[u8] = b"hello, world\n";
    let headers = Fields::from_list(&[
        ("content-type".to_owned(), b"text/plain".to_vec()),
        (
            "content-length".to_owned(),
            BODY.len().to_string().into_bytes(),
        ),
    ])
    .expect("valid headers");
    let response = OutgoingResponse::new(headers);
    // A freshly created response accepts any valid status code.
    let _ = response.set_status_code(200);
    if let Err(e) = out.set_with_body(response, BODY.to_vec()).await {
        eprintln!("hello-wasi: body not sent: {e:?}");
    }
}

//! The delivery client against real sockets: a small HTTP/1.1 receiver on 127.0.0.1:0.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use super::*;

/// One request as the receiver saw it.
#[derive(Debug)]
struct Received {
    request_line: String,
    /// Names in lower case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

type Respond = dyn Fn(&Received) -> Vec<u8> + Send + Sync;

struct TestReceiver {
    url: String,
    accepts: Arc<AtomicUsize>,
    received: mpsc::Receiver<Received>,
}

/// A keep-alive HTTP/1.1 receiver answering every request with `respond`'s bytes.
fn receiver(respond: impl Fn(&Received) -> Vec<u8> + Send + Sync + 'static) -> TestReceiver {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    let accepts = Arc::new(AtomicUsize::new(0));
    let (sender, received) = mpsc::channel();
    let respond: Arc<Respond> = Arc::new(respond);
    let counter = accepts.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            counter.fetch_add(1, Ordering::SeqCst);
            let (respond, sender) = (respond.clone(), sender.clone());
            thread::spawn(move || serve_connection(stream.unwrap(), &*respond, &sender));
        }
    });
    TestReceiver { url, accepts, received }
}

fn serve_connection(mut stream: TcpStream, respond: &Respond, sender: &mpsc::Sender<Received>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
        let mut received = Received {
            request_line: request_line.trim_end().to_owned(),
            headers,
            body: Vec::new(),
        };
        let length = received.header("content-length").map_or(0, |v| v.parse().unwrap());
        received.body = vec![0; length];
        reader.read_exact(&mut received.body).unwrap();
        let answer = respond(&received);
        let _ = sender.send(received);
        if stream.write_all(&answer).is_err() {
            return;
        }
    }
}

fn answer(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!("HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn loopback_allowed() -> ReceiverPolicy {
    ReceiverPolicy::new(vec!["127.0.0.0/8".parse().unwrap()])
}

fn client(policy: ReceiverPolicy) -> Receivers {
    Receivers::new(policy, DEFAULT_TIMEOUT, None)
}

fn post(receivers: &Receivers, url: &str) -> Result<Answer, SendError> {
    receivers.post(url, "application/json", &[], b"{}")
}

#[test]
fn a_loopback_receiver_is_refused_at_connection_without_an_allowed_block() {
    let test = receiver(|_| answer("202 Accepted", "", b""));
    let receivers = client(ReceiverPolicy::default());
    for url in [test.url.clone(), test.url.replace("http:", "https:")] {
        match post(&receivers, &url) {
            Err(SendError::Refused(why)) => assert!(why.contains("127.0.0.0/8 (loopback)"), "{why}"),
            other => panic!("{url}: {other:?}"),
        }
    }
    assert_eq!(test.accepts.load(Ordering::SeqCst), 0);
}

#[test]
fn an_allowed_receiver_gets_the_post_with_its_headers_and_body() {
    let test = receiver(|_| answer("202 Accepted", "", b""));
    let headers = [
        ("webhook-id", "msg_1".to_owned()),
        ("webhook-signature", "v1,c2lnbmF0dXJl".to_owned()),
    ];
    let answer = client(loopback_allowed())
        .post(&test.url, "application/secevent+jwt", &headers, b"eyJhbGciOi.x.y")
        .unwrap();
    assert_eq!((answer.status, answer.retry_after, answer.body.len()), (202, None, 0));
    let got = test.received.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(got.request_line, "POST /events HTTP/1.1");
    assert_eq!(got.header("content-type"), Some("application/secevent+jwt"));
    assert_eq!(got.header("webhook-id"), Some("msg_1"));
    assert_eq!(got.header("webhook-signature"), Some("v1,c2lnbmF0dXJl"));
    assert!(got.header("user-agent").is_some_and(|ua| ua.starts_with("scimd/")));
    assert_eq!(got.body, b"eyJhbGciOi.x.y");
}

#[test]
fn a_redirect_is_the_answer_and_is_not_followed() {
    let elsewhere = receiver(|_| answer("200 OK", "", b""));
    let location = format!("Location: {}\r\n", elsewhere.url);
    let test = receiver(move |_| answer("302 Found", &location, b""));
    let answer = post(&client(loopback_allowed()), &test.url).unwrap();
    assert_eq!(answer.status, 302);
    assert_eq!(elsewhere.accepts.load(Ordering::SeqCst), 0);
}

#[test]
fn an_error_status_is_an_answer_with_its_body() {
    let test = receiver(|_| answer("400 Bad Request", "", br#"{"err":"invalid_key"}"#));
    let answer = post(&client(loopback_allowed()), &test.url).unwrap();
    assert_eq!(
        (answer.status, answer.body.as_slice()),
        (400, br#"{"err":"invalid_key"}"#.as_slice())
    );
}

#[test]
fn a_huge_answer_is_cut_at_64_kib_and_the_next_post_still_works() {
    let test = receiver(|got| match got.body.as_slice() {
        b"huge" => answer("200 OK", "", &vec![b'x'; 1 << 20]),
        _ => answer("200 OK", "", &vec![b'y'; MAX_ANSWER_BODY]),
    });
    let receivers = client(loopback_allowed());
    let huge = receivers.post(&test.url, "text/plain", &[], b"huge").unwrap();
    assert_eq!(huge.body.len(), MAX_ANSWER_BODY);
    let exact = receivers.post(&test.url, "text/plain", &[], b"exact").unwrap();
    assert_eq!(exact.body, vec![b'y'; MAX_ANSWER_BODY]);
}

#[test]
fn retry_after_is_read_as_seconds_or_as_a_date_from_the_receivers_clock() {
    let test = receiver(|got| match got.body.as_slice() {
        b"seconds" => answer("503 Service Unavailable", "Retry-After: 7\r\n", b""),
        // The receiver's clock is far behind ours; its Date is what the wait is measured from.
        _ => answer(
            "429 Too Many Requests",
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nRetry-After: Sun, 06 Nov 1994 08:50:07 GMT\r\n",
            b"",
        ),
    });
    let receivers = client(loopback_allowed());
    let seconds = receivers.post(&test.url, "text/plain", &[], b"seconds").unwrap();
    assert_eq!(
        (seconds.status, seconds.retry_after),
        (503, Some(Duration::from_secs(7)))
    );
    let date = receivers.post(&test.url, "text/plain", &[], b"date").unwrap();
    assert_eq!((date.status, date.retry_after), (429, Some(Duration::from_secs(30))));
}

#[test]
fn sequential_posts_reuse_one_kept_alive_connection() {
    let test = receiver(|_| answer("204 No Content", "", b""));
    let receivers = client(loopback_allowed());
    for _ in 0..20 {
        assert_eq!(post(&receivers, &test.url).unwrap().status, 204);
    }
    assert_eq!(test.accepts.load(Ordering::SeqCst), 1);
}

#[test]
fn a_receiver_that_never_answers_times_out_as_a_network_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    thread::spawn(move || {
        // Accept and hold every connection, never answering.
        let held: Vec<TcpStream> = listener.incoming().map_while(Result::ok).collect();
        drop(held);
    });
    let receivers = Receivers::new(loopback_allowed(), Duration::from_millis(300), None);
    let started = Instant::now();
    let error = post(&receivers, &url).unwrap_err();
    assert!(
        matches!(&error, SendError::Network(why) if why.contains("timeout")),
        "{error}"
    );
    assert!(error.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_closed_port_is_a_retryable_network_error() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let error = post(&client(loopback_allowed()), &format!("http://127.0.0.1:{port}/")).unwrap_err();
    assert!(matches!(error, SendError::Network(_)), "{error}");
}

#[test]
fn errors_never_quote_a_header_value() {
    let receivers = client(loopback_allowed());
    let secret = "v1,SECRETSIGNATURE";
    let bad_value = [("webhook-signature", format!("{secret}\r\nX-Injected: 1"))];
    let error = receivers
        .post("http://127.0.0.1:9/", "text/plain", &bad_value, b"")
        .unwrap_err();
    assert!(matches!(error, SendError::Invalid(_)), "{error}");
    assert!(!error.to_string().contains("SECRET"), "{error}");
    let signed = [("webhook-signature", secret.to_owned())];
    let refused = client(ReceiverPolicy::default())
        .post("https://169.254.169.254/", "text/plain", &signed, b"")
        .unwrap_err();
    assert!(matches!(refused, SendError::Refused(_)) && !refused.to_string().contains("SECRET"));
}

#[test]
fn check_url_refuses_internal_credentialed_and_non_http_urls() {
    let none = ReceiverPolicy::default();
    let cases = [
        ("http://169.254.169.254/latest/meta-data/", "169.254.0.0/16 (link-local"),
        ("http://[::ffff:127.0.0.1]/", "IPv4-mapped form"),
        ("https://[::ffff:169.254.169.254]/", "169.254.0.0/16"),
        ("https://[fd00:ec2::254]/", "fc00::/7"),
        ("https://[64:ff9b::a9fe:a9fe]/", "NAT64"),
        ("https://10.1.2.3/", "10.0.0.0/8 (private-use"),
        ("https://100.100.100.200/", "100.64.0.0/10"),
        ("https://0.0.0.0/", "0.0.0.0/8"),
        ("http://user:pw@example.com/", "user name or password"),
        ("https://user@93.184.215.14/", "user name or password"),
        ("ftp://x", "not http or https"),
        ("example.com/hook", "not a valid URL"),
        ("/hook", "not an absolute URL"),
        ("https://localhost/", "localhost resolves to"),
        ("http://93.184.215.14/", "plain http"),
    ];
    for (url, reason) in cases {
        match check_url(url, &none) {
            Err(why) => assert!(why.contains(reason), "{url}: {why}"),
            Ok(()) => panic!("{url} was accepted"),
        }
    }
}

#[test]
fn check_url_accepts_public_https_and_allowed_blocks_without_connecting() {
    let none = ReceiverPolicy::default();
    assert_eq!(check_url("https://93.184.215.14/hooks", &none), Ok(()));
    assert_eq!(check_url("https://[2606:4700:4700::1111]:8443/", &none), Ok(()));
    let allowed = loopback_allowed();
    assert_eq!(check_url("http://127.0.0.1:8080/", &allowed), Ok(()));
    assert_eq!(check_url("http://[::ffff:127.0.0.1]/", &allowed), Ok(()));
    // An allowed block opens internal addresses, not plain http to the Internet.
    assert!(check_url("http://93.184.215.14/", &allowed).is_err());
}

//! Known answers for whole TLS 1.2 sessions, made independently of
//! xmppcap's crypto: Python's `hmac`, `hashlib` and `zlib` and the
//! OpenSSL-backed `cryptography` package built the key block from the
//! master secret 4d…4d (48 bytes), client random 11…11 and server random
//! 22…22 (RFC 5246 §5, §6.3), then sealed the client's Finished (type 20,
//! twelve 0x5f bytes) and two HTTP requests as TLS 1.2 records: CBC with
//! MAC-then-encrypt and explicit IV `(7·i + seq) mod 256` (§6.2.3.2), or GCM
//! with the sequence number as explicit nonce (RFC 5288); optionally each
//! record first compressed on one zlib stream with `Z_SYNC_FLUSH`
//! (RFC 3749). A session given the hand-built hellos and the key log line
//! must give back the requests exactly.

use super::summary::{Decrypted, EventKind};
use super::tls12_tests::{client_hello, record, replay_frames, server_hello};
use crate::position::Dir;

const APP: &[u8] = b"GET /finesse/api/User/1001 HTTP/1.1\r\nHost: finesse.example.com\r\n\r\n";
const APP2: &[u8] =
    b"GET /finesse/api/User/1001/Dialogs HTTP/1.1\r\nHost: finesse.example.com\r\n\r\n";

/// (suite, DEFLATE, [Finished, request, request] record bodies in hex).
#[rustfmt::skip]
const VECTORS: &[(u16, bool, [&str; 3])] = &[
// TLS_RSA_WITH_3DES_EDE_CBC_SHA
    (0x000a, false, [
    "00070e151c232a31e726124b089cd54cf7739db88a06c6f742f4cd28da02d051257f307272a764f104e20004ec74e9f2",
    "01080f161d242b32b03b867d691af7faa4fa738e338cafa7911809ec54d9b271b754ec37b744e0b0d67b23fabd8477581c949370104908ab77424ca25b666975d44ce8828d421dd115fc5ed8c60565e8a00b56cd88cc5c637d96b1bcf74de9ca",
    "020910171e252c337da620c7792035697e06d4cf296d1fc772a1f0487effb2c6f894e1d78e88e7baf4e768f29c092b96cd26569016b0ac751c7213f052b324832aa3ec8a66a39f42cd499a4ac6f0d5bbf5673101e049ac02b3d32d0f50d01c9320c76b988da51aaa",
    ]),
// TLS_RSA_WITH_CAMELLIA_128_CBC_SHA
    (0x0041, false, [
    "00070e151c232a31383f464d545b6269f7826b32cc62b127ad61e20fec2331bc9a357f158cc5c405e514bae9c50a6141f312810483ce388855d61751db29c41c",
    "01080f161d242b323940474e555c636a0adae85f8a5aa883f0c8fbf0d47bbf33de5a7840a03ff77ada2ee67e562763af27f992441463637e89f93f26afdbb0f64707e5e92aaa13e6a9bac691e45780e39b54932b6c6c536b43bc43c6a0a9088badf817f06c60563ef657558f2af14a78",
    "020910171e252c333a41484f565d646bdd82a39609b41d47afa4b6ae1b5792c8ba3a29bf463b1f7e53dc96c8133a5678b72010e6ae0365ee5d282dd5957b0d08a2f467514c72248691d8bb1ef11f4eba33254dd8851b08b3fe6757dc63d1c876956d90356c650a074e128057a9b6fd39",
    ]),
// TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384
    (0xc077, false, [
    "00070e151c232a31383f464d545b6269730a6b33e4da8dd01cd7007105a44f7c14bdce03f08ef4e4594cd93d692c16a7235f0200beca79e0ba53728edbf6b8c4770289024130f008a430989e7ca7a1903c5a7ed415ac95c15a47ac52670c4b09",
    "01080f161d242b323940474e555c636a82c836ae84eba6fc98badcb845065d6b7f2d6aeaec0fe9f4d4c8ee3492302cc2697e7f2a434fe2f385240eae4038c5d2e3a300d332405410a98b36d2b29acac899f8e88abf0bf03d8a3b89346e5dc173c12e56ad2b31f9c75afbb6af9b6491dcdb027d9e52ce66e64e6d27e5d970b1ede42527700b4369cec731aff407d3ca5a",
    "020910171e252c333a41484f565d646ba14ad2c63bdfe22f0025db9752cdd09db8a7a6411c55750963707a35e9ecc80a35a4f9c43a562ad08c52c007ab25a3f63e174e5150febec5842a3fc4ebb2ddd8e19a433a054e6503bbdba9ff206436eb5852706ef3f523b612f3b04daf6cc2a7c34381fa9c71fb6ed2670a3f5393eeea208f900517bfc113f2dbdde0145b5384",
    ]),
// TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384
    (0xc026, false, [
    "00070e151c232a31383f464d545b6269562ee89ac30bffff47c82f6650a775e16e35a620523badfd16f3ac91c4b0ff8e7c5a37763a42563674f374ad79ee5c8c130f8c26346d586d0dffd485d8b4d097a496571aee7a0fb8bcd5cad5942a8fa9",
    "01080f161d242b323940474e555c636a8ffb221804a7f8e9ddc8d112cf7523921ccca787ea62b725f91a55d15a8e04c110194fa2446ddb1b7f5f528eec9730438fd3b728d67ed0b22ca73f90462b247c67f5a7828656e95291ac554bae48d617ecd05347af85e18eae9abfb4d8ddc4140dd96da9685eb8dfca441987c9cfcd993c312664a261a70f143d7b8e0ef82027",
    "020910171e252c333a41484f565d646b67211586fecd22732983d9853880c7a5490675a498b145c16a5c33eb0b3ff231180b874544a5c73732a56773daba5adf183297699cf44c87d167663562b01c589ec76b1b736f8fa91eda71368a91df0f402769b364dc7764f8b57d7172dd290de41333aafb12b1dd9edffde9730544cea505ca058d301ac675f4b966fa17b5f8",
    ]),
// TLS_DHE_DSS_WITH_AES_128_CBC_SHA256
    (0x0040, false, [
    "00070e151c232a31383f464d545b6269abe6afe69f3232f0977fbf094e250c94add34258c4742c65a097f070035eac298271874599e0aea8c4ac957dcc4034facb86f3f8b2a576af514cb546cb07a7d7",
    "01080f161d242b323940474e555c636a7ca10e277304db4c90903afa55d3c94423f5e017d3826ef9c1d5e1d404846bb13193c66c6a81b6219bc741a549bd336c305031728d22fed99bee940423d081e9c5a20c0b3058094cd117ca282c54169769e1a78895cea1c83293d90cbc18a2f3f19dc3490b0d07cff78849344c308b27",
    "020910171e252c333a41484f565d646b27e4732bbebef2bfb381d0fb25bf6381794e50774bba0ff309d96b1db88b3f4d79f6462eef107646b0e74227f1e4a337111a0fbf394bebfdc6896b9829857e2e99ac19f5570b041dbc0f9dcf4f5381f017372d838c6ea9b1a272993fe622713d53af216275ac3263efa8a3a58d5df9c5",
    ]),
// TLS_DHE_DSS_WITH_AES_256_GCM_SHA384
    (0x00a3, false, [
    "0000000000000000412a4d835d42e5df3f8ab2301477e4ed421d810645c334397c036c745dc06866",
    "0000000000000001268b9c1b4957a7b2d214c3d697295a36d52b9faf75072d574ffac55fd7d4eb378421f1418e1ab5778e763495fc55412917612a07b3852fd7e56e7602b4965f962cb73c5aeab602e0d2591f011ee1008be669",
    "0000000000000002e958095ea502a039de16988ea2014aa20422a2483dc05301ceb101a548ac7a3007806e9819980d8662832c369127e605646e52eb5d9c99cac656be2648368e02f1db2bb9afe8925d1b9d9672f472b545685a2730fc86aa6c8955",
    ]),
// TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA + DEFLATE
    (0x0016, true, [
    "00070e151c232a31944987ad32ebae714b5ea0799b8a68b48ba347cda739e76cdbbf9fc1effc5fa2e863d57925d98be0",
    "01080f161d242b3237c9f1751bde975c7f2706650bb84397bd7389d825fd97c8484bf78bac80b0df0f40a8e0331b84b11724b488795cf7d910f5b4bfa19ccb60b38be63e56a86b2da67563cc0d1e4d89089d8bb3fbdc5da0c5d11aaeae64546b",
    "020910171e252c3392b691f9ae70be4524f9e2776b2d4ea45c89e3755d0afcd4e7da9252b4223b336dcb69c11adf6d39",
    ]),
// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 + DEFLATE
    (0xc02f, true, [
    "00000000000000006e90a1f6a0837c7cbc5f5ff85881c5175b79246ef9ed423647f9b03a7343ee",
    "00000000000000017dc694ddab1dfaf95abbcb48ea3e4d37e268edc78d6ef9ab21df2f8c67f97d4d53ebfa7e7130e2deeba110c07b0cd67c268d5fa6542d3b3d4f79a921b33c73affc50c7097bb181ee55a6f7729e7b45a8482485",
    "0000000000000002b90e0ce5343ce62968e6cba33107e1fd809e4f798c80495263ad4441ec7c8ce2587ef7",
    ]),
];

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn independently_sealed_sessions_decrypt_to_the_exact_requests() {
    for &(suite, deflate, records) in VECTORS {
        let method = u8::from(deflate);
        let mut client = record(20, &[1]);
        client.extend(record(22, &unhex(records[0])));
        let frames = vec![
            (Dir::ClientToServer, client_hello(suite, &[method, 0])),
            (Dir::ServerToClient, server_hello(suite, method)),
            (Dir::ClientToServer, client),
            (Dir::ClientToServer, record(23, &unhex(records[1]))),
            (Dir::ClientToServer, record(23, &unhex(records[2]))),
        ];
        let (sink, summary) = replay_frames(&frames);
        let mut want = APP.to_vec();
        want.extend_from_slice(APP2);
        assert_eq!(
            sink.plain[0], want,
            "suite {suite:04x}: {:#?}",
            sink.findings
        );
        assert!(
            sink.findings.is_empty(),
            "suite {suite:04x}: {:#?}",
            sink.findings
        );
        assert_eq!(summary.decrypted, Decrypted::Yes);
        assert!(sink.events.iter().any(|e| e.kind == EventKind::Finished));
        assert_eq!(summary.compression.is_some(), deflate);
    }
}

#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Login failures the session layer decides (RFC 7143 11.13.5): the
//! response carries the LoginStatus, T=0 and NSG 0, then the connection
//! closes.

mod common;

use common::{start, Initiator};

#[tokio::test]
async fn tsih_of_no_session_and_a_second_connection_are_refused() {
    let (addr, token, server) = start().await;
    let mut first = Initiator::connect(addr, 1).await;
    assert!(first.login().await);
    first.ready().await;

    // A TSIH that names no session: 0x020a SESSION DOES NOT EXIST.
    let mut stray = Initiator::connect(addr, 2).await;
    stray.tsih = first.tsih.wrapping_add(100);
    assert!(!stray.login().await);
    assert_eq!(stray.login_status, (0x02, 0x0a, false, 0));
    assert!(stray.recv().await.is_none());

    // The TSIH (and ISID) of the open session: 0x0206 TOO MANY
    // CONNECTIONS (MaxConnections=1).
    let mut second = Initiator::connect(addr, 1).await;
    second.tsih = first.tsih;
    assert!(!second.login().await);
    assert_eq!(second.login_status, (0x02, 0x06, false, 0));
    assert!(second.recv().await.is_none());

    // The open session is unaffected.
    assert_eq!(first.read(&[0x00, 0, 0, 0, 0, 0], 0).await.0, 0);
    first.logout().await;
    token.cancel();
    server.await.unwrap().unwrap();
}

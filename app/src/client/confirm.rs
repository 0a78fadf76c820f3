//! "Confirm it's you" between the transport and the page: when the server asks for the
//! password again, [`ask`] opens the one dialog that is registered ([`on_ask`], by the
//! signed-in frame's `ConfirmItsYou`) and waits for its [`answer`]. Several calls that
//! were refused at the same time wait for the same answer.

#[cfg(feature = "hydrate")]
mod imp {
    use futures_channel::oneshot;
    use std::cell::RefCell;

    thread_local! {
        static OPEN: RefCell<Option<Box<dyn Fn()>>> = RefCell::new(None);
        static WAITING: RefCell<Vec<oneshot::Sender<bool>>> = const { RefCell::new(Vec::new()) };
    }

    /// How the dialog opens (the frame registers it once mounted).
    pub fn on_ask(open: impl Fn() + 'static) {
        OPEN.with(|o| *o.borrow_mut() = Some(Box::new(open)));
    }

    /// Asks for the password; true once it was confirmed, false when cancelled (or when
    /// no dialog is there to ask, e.g. on the sign-in page).
    pub async fn ask() -> bool {
        let (tx, rx) = oneshot::channel();
        let opened = OPEN.with(|o| match o.borrow().as_ref() {
            Some(open) => {
                WAITING.with(|w| w.borrow_mut().push(tx));
                open();
                true
            }
            None => false,
        });
        opened && rx.await.unwrap_or(false)
    }

    /// The dialog's answer, for every call waiting on it.
    pub fn answer(confirmed: bool) {
        for tx in WAITING.with(|w| std::mem::take(&mut *w.borrow_mut())) {
            let _ = tx.send(confirmed);
        }
    }
}

#[cfg(not(feature = "hydrate"))]
mod imp {
    pub fn on_ask(_open: impl Fn() + 'static) {}
    pub fn answer(_confirmed: bool) {}
}

pub use imp::*;

//! What a write did when its answer was lost, read back from the table.

use super::{Handle, Result, ServiceForm};
use crate::model::{DestEntry, DestKey, ServiceEntry, ServiceKey};
use crate::wire::Request;

impl Handle {
    /// Whether the write `request` took effect, as the kernel's table shows it now. A
    /// request that leaves no trace (flush, zero) or is no write counts as not done.
    pub(super) fn took_effect(&mut self, request: &Request<'_>) -> Result<bool> {
        Ok(match *request {
            Request::NewService(service) => self.find_service(&service.key)?.is_some(),
            Request::SetService {
                service,
                flags_mask,
            } => self
                .find_service(&service.key)?
                .is_some_and(|have| have.service.same_settings_masked(service, flags_mask)),
            Request::DelService(key) => self.find_service(key)?.is_none(),
            Request::NewDest(service, dest) => self.find_dest(service, &dest.key())?.is_some(),
            Request::SetDest(service, dest) => self
                .find_dest(service, &dest.key())?
                .is_some_and(|have| have.dest.normalised() == dest.normalised()),
            Request::DelDest(service, key) => self.find_dest(service, &key)?.is_none(),
            Request::SetTimeouts(want) => {
                let have = self.timeouts()?;
                let kept_or_set = |want: u32, have: u32| want == 0 || want == have;
                kept_or_set(want.tcp, have.tcp)
                    && kept_or_set(want.tcp_fin, have.tcp_fin)
                    && kept_or_set(want.udp, have.udp)
            }
            Request::NewDaemon(daemon) => self.daemons()?.iter().any(|d| d.role == daemon.role),
            Request::DelDaemon(role) => !self.daemons()?.iter().any(|d| d.role == role),
            _ => false,
        })
    }

    pub(super) fn find_service(&mut self, key: &ServiceKey) -> Result<Option<ServiceEntry>> {
        self.find_service_as(key)
    }

    /// [`Handle::find_service`] kept in the form `E` (see [`Handle::services_as`]).
    pub(super) fn find_service_as<E: ServiceForm>(
        &mut self,
        key: &ServiceKey,
    ) -> Result<Option<E>> {
        match self.service_as(key) {
            Ok(entry) => Ok(Some(entry)),
            Err(e) if e.errno() == libc::ESRCH => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The kernel lists no destinations (and no error) for a missing service.
    fn find_dest(&mut self, service: &ServiceKey, key: &DestKey) -> Result<Option<DestEntry>> {
        Ok(self
            .dests(service)?
            .into_iter()
            .find(|entry| entry.dest.key() == *key))
    }
}

//! Reading the destinations of many services at once. The kernel answers one service's
//! destinations per dump and runs one dump at a time per socket; it fills each part of a
//! dump under one mutex shared by all namespaces (`__ip_vs_mutex`), but the system calls,
//! the copies to user space and the decoding around it can overlap. So a long list of
//! services is spread over several sockets of the handle's namespace, each read by a
//! thread of its own that ends before the call returns.

use std::sync::Mutex;

use super::socket::Socket;
use super::{dests_on, Handle, Result};
use crate::model::{DestEntry, ServiceEntry, ServiceKey};
use crate::workers;

/// Sockets read at once, at most (one is the handle's own).
const MAX_READERS: usize = 4;
/// Services a reader is given at least: fewer are not worth a thread.
const SERVICES_PER_READER: usize = 64;

/// The destinations of many services, each service's in a list of its own.
type EachServicesDests = Vec<Vec<DestEntry>>;

impl Handle {
    /// Every service (as [`Handle::services`]) with its destinations (as
    /// [`Handle::dests_of`]).
    pub fn services_with_dests(&mut self) -> Result<Vec<(ServiceEntry, Vec<DestEntry>)>> {
        self.services_with(Handle::dests_of)
    }

    /// The destinations of each service of `keys`, in order, each as [`Handle::dests`]
    /// lists them. Many services are read over up to one socket a processor (at most 4),
    /// the handle's and others it keeps in the same namespace, on short-lived threads.
    pub fn dests_of(&mut self, keys: &[ServiceKey]) -> Result<Vec<Vec<DestEntry>>> {
        self.ensure_own_socket()?;
        let processors = std::thread::available_parallelism().map_or(1, |n| n.get());
        let wanted = (keys.len() / SERVICES_PER_READER).clamp(1, processors.min(MAX_READERS));
        while self.readers.len() + 1 < wanted {
            match self.open_reader() {
                Ok(reader) => self.readers.push(reader),
                // Fewer readers do the same work.
                Err(_) => break,
            }
        }
        let count = wanted.min(self.readers.len() + 1);
        let per_reader = keys.len().div_ceil(count).max(1);
        let shares: Vec<&[ServiceKey]> = keys.chunks(per_reader).collect();
        let family = self.family;
        let read = |socket: &mut Socket, share: &[ServiceKey]| -> Result<Vec<Vec<DestEntry>>> {
            share
                .iter()
                .map(|key| dests_on(socket, family, key))
                .collect()
        };
        let readers: Vec<Mutex<&mut Socket>> = self.readers.iter_mut().map(Mutex::new).collect();
        let socket = &mut self.socket;
        let job = |index: usize| {
            let mut reader = readers[index].lock().unwrap_or_else(|e| e.into_inner());
            read(&mut reader, shares[index + 1])
        };
        let here = || match shares.first() {
            Some(share) => read(socket, share),
            None => Ok(Vec::new()),
        };
        let (theirs, mine) = workers::in_parallel(shares.len().saturating_sub(1), &job, here);
        drop(readers);
        let outcome: Result<Vec<Vec<Vec<DestEntry>>>> =
            std::iter::once(mine).chain(theirs).collect();
        match outcome {
            Ok(parts) => Ok(parts.into_iter().flatten().collect()),
            Err(e) => {
                // A reader that failed may have left a dump unfinished.
                self.readers.clear();
                Err(e)
            }
        }
    }

    /// Every service (as [`Handle::services`]) with its destinations' settings (as
    /// [`Handle::dest_settings_of`]: statistics zero), for a reader of the table's
    /// settings: a diff, a model.
    pub fn services_with_dest_settings(&mut self) -> Result<Vec<(ServiceEntry, Vec<DestEntry>)>> {
        self.services_with(Handle::dest_settings_of)
    }

    /// Every service with its destinations as `read` lists those of many services.
    fn services_with(
        &mut self,
        read: fn(&mut Handle, &[ServiceKey]) -> Result<EachServicesDests>,
    ) -> Result<Vec<(ServiceEntry, Vec<DestEntry>)>> {
        let services = self.services()?;
        let keys: Vec<ServiceKey> = services.iter().map(|e| e.service.key).collect();
        let dests = read(self, &keys)?;
        Ok(services.into_iter().zip(dests).collect())
    }

    /// The destinations of each service of `keys`, in order, as [`Handle::dests_of`] lists
    /// them but with statistics zero. An IPv4 service is read through IPVS's sockopt
    /// interface (three system calls and one lookup of the service in the kernel, against
    /// a netlink dump's three calls, two lookups and a dump's set-up). Those it cannot
    /// tell whole, by netlink as
    /// [`Handle::dests_of`]: a service with a tunnel destination (the interface has no
    /// tunnel settings) or one of the other family (it lists none: the service's number
    /// of destinations, read before and after, then differs), one whose number changed
    /// meanwhile, a service gone, and every IPv6 service.
    /// Where the raw socket it needs cannot be had (no CAP_NET_RAW), all by netlink.
    pub fn dest_settings_of(&mut self, keys: &[ServiceKey]) -> Result<Vec<Vec<DestEntry>>> {
        self.ensure_own_socket()?;
        let mut dests = Vec::with_capacity(keys.len());
        let mut by_netlink = Vec::new();
        for (index, key) in keys.iter().enumerate() {
            match self.socket.ipv4_dests(key) {
                Some(listed) => dests.push(listed),
                None => {
                    dests.push(Vec::new());
                    by_netlink.push(index);
                }
            }
        }
        if !by_netlink.is_empty() {
            let others: Vec<ServiceKey> = by_netlink.iter().map(|&i| keys[i]).collect();
            for (index, listed) in by_netlink.into_iter().zip(self.dests_of(&others)?) {
                dests[index] = listed;
            }
        }
        Ok(dests)
    }

    /// Another socket in the namespace of the handle's own, with its settings.
    fn open_reader(&self) -> Result<Socket> {
        let netns = self.socket_netns()?;
        let mut socket = Socket::open(Some(std::os::fd::AsFd::as_fd(&netns)), self.timeout)?;
        if let Some(bytes) = self.receive_buffer {
            socket.set_receive_buffer(bytes)?;
        }
        Ok(socket)
    }
}

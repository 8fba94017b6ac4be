//! The argv a client gives the server it starts: the options that
//! concern the server's side, in the order upstream sends them.
use super::{DeleteMode, Options, CLIENT_INFO};

impl Options {
    /// The argv the client puts after the remote shell's host (starting with
    /// "--server"), for a server that will send (`server_sender`) or
    /// receive, given the client's protocol. Paths are not included; the
    /// caller appends "." and the remote paths.
    // upstream: options.c:server_options()
    pub fn to_server_args(&self, server_sender: bool, protocol: i32) -> Vec<String> {
        let client_sender = !server_sender;
        let mut args = vec!["--server".to_string()];
        if server_sender {
            args.push("--sender".to_string());
        }
        let bundle = self.server_letters(server_sender, protocol);
        if bundle.len() > 1 {
            args.push(bundle);
        }
        self.push_value_args(client_sender, &mut args);
        if client_sender {
            self.push_receiver_args(&mut args);
        }
        self.push_file_args(client_sender, &mut args);
        self.push_write_args(client_sender, protocol, &mut args);
        args
    }

    /// The one-letter options in one bundle (`-vlogDtpr...`), with `-e`
    /// and the capability letters from protocol 30.
    fn server_letters(&self, server_sender: bool, protocol: i32) -> String {
        let client_sender = !server_sender;
        let mut bundle = String::from("-");
        if self.ctl.protect() {
            bundle.push('s');
        }
        for _ in 0..self.verbose.min(9) {
            bundle.push('v');
        }
        let letters = [
            (self.quiet, 'q'),
            (self.backup, 'b'),
            (self.update_only, 'u'),
            (self.dry_run, 'n'),
            (self.links, 'l'),
            (
                self.dirs
                    && !self.recursive
                    && (!self.tree.dirs_implied
                        || (client_sender && self.delete != DeleteMode::Off)),
                'd',
            ),
            (client_sender && self.keep_dirlinks, 'K'),
            (client_sender && self.tree.prune_empty_dirs, 'm'),
            (client_sender && self.omit_dir_times, 'O'),
            (client_sender && self.omit_link_times, 'J'),
            (client_sender && self.fuzzy > 0, 'y'),
            (client_sender && self.fuzzy > 1, 'y'),
            (!client_sender && self.copy_links, 'L'),
            (!client_sender && self.copy_dirlinks, 'k'),
            (self.whole_file == Some(true), 'W'),
            (self.hard_links, 'H'),
            (self.owner, 'o'),
            (self.group, 'g'),
            (self.devices, 'D'),
            (self.times, 't'),
            (self.atimes > 0, 'U'),
            (self.atimes > 1, 'U'),
            (self.perms, 'p'),
            (!self.perms && self.executability && client_sender, 'E'),
            (self.acls, 'A'),
            (self.xattrs > 0, 'X'),
            (self.xattrs > 1, 'X'),
            (self.recursive, 'r'),
            (self.checksum, 'c'),
            (self.cvs_exclude, 'C'),
            (self.sparse, 'S'),
            (
                self.compress && self.compress_choice.as_deref().is_none_or(|c| c == "zlib"),
                'z',
            ),
            (self.ignore_times, 'I'),
            (self.tree.relative(), 'R'),
            (self.tree.one_file_system > 0, 'x'),
            (self.tree.one_file_system > 1, 'x'),
        ];
        bundle.extend(letters.iter().filter(|(on, _)| *on).map(|&(_, c)| c));
        if protocol >= 30 {
            bundle.push('e');
            if crate::options::client_offers_inc(self, server_sender) {
                // upstream: compat.c maybe_add_e_option() puts it first.
                bundle.push_str(".i");
                bundle.push_str(&CLIENT_INFO[1..]);
            } else {
                bundle.push_str(CLIENT_INFO);
            }
        }
        bundle
    }

    /// The charset, control, log format, block size, backup, checksum and
    /// compression options.
    fn push_value_args(&self, client_sender: bool, args: &mut Vec<String>) {
        // upstream: server_options() gives the server the REMOTE charset.
        if let Some(spec) = &self.iconv {
            let remote = spec.split_once(',').map_or(spec.as_str(), |(_, r)| r);
            args.push(format!("--iconv={}", self.escape_value(remote)));
        }
        // upstream: tells the server that -d without -r may delete.
        if self.dirs && !self.recursive && self.delete != DeleteMode::Off && client_sender {
            args.push("--no-r".to_string());
        }
        args.extend(
            self.ctl
                .server_args(client_sender, |v| self.escape_value(v)),
        );
        // -D stands for both; the odd one out goes as a long option.
        if self.devices && !self.specials {
            args.push("--no-specials".to_string());
        } else if !self.devices && self.specials {
            args.push("--specials".to_string());
        }
        if client_sender {
            if let Some(hint) = self.log_format_hint() {
                args.push(format!("--log-format={hint}"));
            }
        }
        if let Some(size) = self.block_size {
            args.push(format!("-B{size}"));
        }
        if let Some(dir) = &self.backup_dir {
            args.push("--backup-dir".to_string());
            args.push(dir.clone());
        }
        if self.suffix.is_some() {
            let default = if self.backup_dir.is_some() { "" } else { "~" };
            if self.backup_suffix() != default {
                args.push(format!("--suffix={}", self.backup_suffix()));
            }
        }
        // The value was checked against plain checksum names, so it needs no
        // shell escaping.
        if let Some(choice) = &self.checksum_choice {
            args.push(format!("--checksum-choice={choice}"));
        }
        if self.compress {
            if let Some(level) = self.compress_level {
                args.push(format!("--compress-level={level}"));
            }
            match self.compress_choice.as_deref() {
                Some("zlibx") => args.push("--new-compress".to_string()),
                Some("zlib") => args.push("--old-compress".to_string()),
                Some(choice) => args.push(format!("--compress-choice={choice}")),
                None => {}
            }
        }
        if !client_sender {
            if let Some(list) = &self.skip_compress {
                args.push(format!("--skip-compress={}", self.escape_value(list)));
            }
        }
    }

    /// What only a receiving server is told: deletion, size limits,
    /// batch, --mkpath, --super, --size-only, --stats.
    fn push_receiver_args(&self, args: &mut Vec<String>) {
        match self.max_delete {
            Some(0) => args.push("--max-delete=-1".to_string()),
            Some(n) => args.push(format!("--max-delete={n}")),
            None => {}
        }
        if let Some(size) = self.min_size {
            args.push(format!("--min-size={size}"));
        }
        if let Some(size) = self.max_size {
            args.push(format!("--max-size={size}"));
        }
        match self.delete {
            DeleteMode::Before => args.push("--delete-before".to_string()),
            DeleteMode::Delay => args.push("--delete-delay".to_string()),
            DeleteMode::After => args.push("--delete-after".to_string()),
            DeleteMode::During if self.delete_during_named => {
                args.push("--delete-during".to_string())
            }
            DeleteMode::During if !self.delete_excluded => args.push("--delete".to_string()),
            _ => {}
        }
        if self.delete_excluded {
            args.push("--delete-excluded".to_string());
        }
        if self.force {
            args.push("--force".to_string());
        }
        if self
            .batch
            .as_ref()
            .is_some_and(|b| b.mode == crate::options::batch::BatchMode::OnlyWrite)
        {
            args.push("--only-write-batch=X".to_string());
        }
        if self.mkpath {
            args.push("--mkpath".to_string());
        }
        if self.super_user == Some(true) {
            args.push("--super".to_string());
        }
        if self.size_only {
            args.push("--size-only".to_string());
        }
        if self.stats {
            args.push("--stats".to_string());
        }
    }

    /// How files are compared, kept partial, linked and owned, and where
    /// their basis comes from.
    fn push_file_args(&self, client_sender: bool, args: &mut Vec<String>) {
        if let Some(window) = self.modify_window.filter(|_| client_sender) {
            args.push(if window < 0 {
                format!("-@{window}")
            } else {
                format!("--modify-window={window}")
            });
        }
        if let Some(seed) = self.checksum_seed {
            args.push(format!("--checksum-seed={seed}"));
        }
        if client_sender {
            if let Some(dir) = self.partial_dir_eff().filter(|_| !self.inplace) {
                if self.partial_dir.is_some() {
                    args.push("--partial-dir".to_string());
                    args.push(dir.to_string());
                }
                if self.delay_updates {
                    args.push("--delay-updates".to_string());
                }
            } else if self.keep_partial() {
                args.push("--partial".to_string());
            }
        }
        if self.ignore_errors {
            args.push("--ignore-errors".to_string());
        }
        if self.copy_unsafe_links {
            args.push("--copy-unsafe-links".to_string());
        }
        if self.safe_links {
            args.push("--safe-links".to_string());
        }
        if self.numeric_ids {
            args.push("--numeric-ids".to_string());
        }
        if client_sender {
            if let Some(map) = &self.usermap {
                args.push(format!("--usermap={}", self.escape_value(map)));
            }
            if let Some(map) = &self.groupmap {
                args.push(format!("--groupmap={}", self.escape_value(map)));
            }
            if self.ignore_existing {
                args.push("--ignore-existing".to_string());
            }
            if self.ignore_non_existing {
                args.push("--existing".to_string());
            }
            if let Some(dir) = &self.temp_dir {
                args.push("--temp-dir".to_string());
                args.push(dir.clone());
            }
            if self.fsync {
                args.push("--fsync".to_string());
            }
            if let Some(kind) = self.alt_dest {
                for dir in &self.basis_dirs {
                    args.push(kind.option().to_string());
                    args.push(dir.clone());
                }
            }
        }
    }

    /// How files are written (append, inplace, devices, preallocation),
    /// the tree options and the client's `--remote-option`s.
    fn push_write_args(&self, client_sender: bool, protocol: i32, args: &mut Vec<String>) {
        if self.append > 0 {
            if self.append > 1 {
                args.push("--append".to_string());
            }
            args.push("--append".to_string());
        } else if self.inplace {
            args.push("--inplace".to_string());
            if self.sparse && self.whole_file == Some(false) && client_sender {
                args.push("--no-W".to_string());
            }
        }
        if self.write_devices && client_sender {
            args.push("--write-devices".to_string());
        }
        if self.remove_sent_only {
            args.push("--remove-sent-files".to_string());
        } else if self.remove_source_files {
            args.push("--remove-source-files".to_string());
        }
        if self.copy_devices && !client_sender {
            args.push("--copy-devices".to_string());
        }
        self.tree.server_args_tail(client_sender, protocol, args);
        if self.preallocate && client_sender {
            args.push("--preallocate".to_string());
        }
        if self.open_noatime && self.atimes <= 1 {
            args.push("--open-noatime".to_string());
        }
        for opt in &self.remote_options {
            args.push(self.escape_value(opt));
        }
    }
}

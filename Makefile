# make install PREFIX=/usr/local [DESTDIR=...]: the binary (cargo build
# --release), the manual pages, shell completions (bash, zsh, fish), the
# systemd units and an example daemon configuration.
# OXSYNC_BIN names an already built binary to install instead.
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR ?= $(DATADIR)/doc/oxsync
OXSYNC_BIN ?= target/release/oxsync
CARGO ?= cargo

.PHONY: all install uninstall

all: $(OXSYNC_BIN)

target/release/oxsync:
	$(CARGO) build --release --locked

install: $(OXSYNC_BIN)
	install -D -m 755 $(OXSYNC_BIN) $(DESTDIR)$(BINDIR)/oxsync
	install -D -m 644 man/oxsync.1 $(DESTDIR)$(MANDIR)/man1/oxsync.1
	install -D -m 644 man/oxsyncd.conf.5 $(DESTDIR)$(MANDIR)/man5/oxsyncd.conf.5
	install -D -m 644 dist/completions/oxsync.bash $(DESTDIR)$(DATADIR)/bash-completion/completions/oxsync
	install -D -m 644 dist/completions/_oxsync $(DESTDIR)$(DATADIR)/zsh/site-functions/_oxsync
	install -D -m 644 dist/completions/oxsync.fish $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/oxsync.fish
	install -d $(DESTDIR)$(UNITDIR)
	sed "s|@BINDIR@|$(BINDIR)|g" dist/systemd/oxsyncd.service > $(DESTDIR)$(UNITDIR)/oxsyncd.service
	install -m 644 dist/systemd/oxsyncd.socket $(DESTDIR)$(UNITDIR)/oxsyncd.socket
	chmod 644 $(DESTDIR)$(UNITDIR)/oxsyncd.service
	install -D -m 644 dist/rsyncd.conf.example $(DESTDIR)$(DOCDIR)/rsyncd.conf.example

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/oxsync $(DESTDIR)$(MANDIR)/man1/oxsync.1 \
	    $(DESTDIR)$(MANDIR)/man5/oxsyncd.conf.5 \
	    $(DESTDIR)$(DATADIR)/bash-completion/completions/oxsync \
	    $(DESTDIR)$(DATADIR)/zsh/site-functions/_oxsync \
	    $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/oxsync.fish \
	    $(DESTDIR)$(UNITDIR)/oxsyncd.service $(DESTDIR)$(UNITDIR)/oxsyncd.socket \
	    $(DESTDIR)$(DOCDIR)/rsyncd.conf.example

/*
 * Transfers between registries (DOMAIN.md §6, docs/article6.md).
 *
 * The sending registry coordinates: xfer.propose reserves the blocks and
 * writes a signed `proposal` to its outbox in the same transaction; the
 * acquiring registry checks it and answers `accept` or `reject`; on accept
 * the sender moves the blocks out (first transfer where it is one) and sends
 * `complete`, on which the acquirer credits them; on reject, or when the
 * sender's administrator terminates first (`terminated`), the reservation is
 * released. The acquirer credits nothing before `complete`, and the sender
 * decides once, so both sides end completed or both terminated.
 *
 * A message is the canonical JSON {type, from, to, n, tx, ...} signed with
 * Ed25519 over those exact bytes; n counts the messages from one registry to
 * one peer. Receiving is a journaled command (link.receive) like any other:
 * a message already received is refused as a duplicate (7003) and changes
 * nothing, one that skips a number is refused (7004) until the ones before
 * it arrive, and a forged or altered one fails its signature (7005). The
 * outbox is never marked sent: the transport asks the peer for the last n it
 * received and sends what follows, so a crash anywhere only repeats work.
 * Signing happens in the checks, so replay needs no secret key.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "spec.h"

#define SECRET_NAME "ed25519"

/* ---- keys ---- */

static int own_secret(jcm_ctx *c, unsigned char sk[crypto_sign_SECRETKEYBYTES]) {
  static const char q[] = "SELECT v FROM node_secret WHERE k = ?";
  jcm_stmt *s = db_q(c->st, q, "s", SECRET_NAME);
  if (!s) return jcm__dberr(c, "key");
  int step = db_step(c->st, s);
  int ok = step == JCM_ROW && c->st->ops->column_bytes(s, 0) == crypto_sign_SECRETKEYBYTES;
  if (ok) memcpy(sk, c->st->ops->column_blob(s, 0), crypto_sign_SECRETKEYBYTES);
  db_reset(c->st, s);
  if (step == JCM_STEP_ERROR) return jcm__dberr(c, "key");
  return ok ? JCM_OK : jcm__refuse(c, C_LINK_NO_KEY, "", "this registry has no signing key: run jcm key generate");
}

typedef struct peer_info {
  char party[4];
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  bool self, has_key;
} peer_info;

static int peer_get(jcm_ctx *c, const char *id, const char *field, peer_info *p) {
  static const char q[] = "SELECT party, public_key, self FROM registry WHERE id = ?";
  memset(p, 0, sizeof *p);
  jcm_stmt *s = db_q(c->st, q, "s", id);
  if (!s) return jcm__dberr(c, "registry");
  int step = db_step(c->st, s);
  if (step == JCM_ROW) {
    snprintf(p->party, sizeof p->party, "%s", col_text(c->st, s, 0));
    const char *hex = col_null(c->st, s, 1) ? "" : col_text(c->st, s, 1);
    p->has_key = sodium_hex2bin(p->pk, sizeof p->pk, hex, strlen(hex), NULL, NULL, NULL) == 0 && strlen(hex) == 64;
    p->self = col_int(c->st, s, 2) != 0;
  }
  db_reset(c->st, s);
  if (step == JCM_STEP_ERROR) return jcm__dberr(c, "registry");
  if (step != JCM_ROW) return jcm__refuse(c, C_LINK_UNKNOWN_REGISTRY, field, "no registry %.16s is known here", id);
  if (p->self) return jcm__refuse(c, C_LINK_SELF, field, "%s is this registry", id);
  if (!p->has_key) return jcm__refuse(c, C_LINK_NO_KEY, field, "no public key is recorded for registry %s", id);
  return JCM_OK;
}

int jcm__check_key_generate(jcm_ctx *c) {
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  static const char q_has[] = "SELECT 1 FROM node_secret WHERE k = ?";
  jcm_stmt *s = db_q(c->st, q_has, "s", SECRET_NAME);
  int step = s ? db_step(c->st, s) : JCM_STEP_ERROR;
  if (s) db_reset(c->st, s);
  if (step == JCM_STEP_ERROR) return jcm__dberr(c, "key");
  if (step == JCM_ROW) return jcm__refuse(c, C_EXISTS, "", "this registry has a signing key already");
  crypto_sign_keypair(pk, sk);
  /* the secret stays in this store only: not journaled, not replayed */
  static const char q[] = "INSERT INTO node_secret(k, v) VALUES (?, ?)";
  int rc = db_x(c->st, q, "sb", SECRET_NAME, sk, (int)sizeof sk);
  sodium_memzero(sk, sizeof sk);
  if (rc != 0) return jcm__dberr(c, "key");
  char hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
  jcm__hex(pk, sizeof pk, hex);
  json_object_set_new(c->out, "public_key", json_string(hex));
  json_object_set_new(c->out, "registry", json_string(c->j->registry));
  return JCM_OK;
}

int jcm__apply_key_generate(jcm_ctx *c) {
  static const char q[] = "UPDATE registry SET public_key = ? WHERE self = 1";
  return db_x(c->st, q, "s", jcm__s(c->out, "public_key")) == 0 ? JCM_OK : jcm__dberr(c, "key");
}

int jcm__check_registry_key(jcm_ctx *c) {
  static const char q[] = "SELECT self FROM registry WHERE id = ?";
  const char *id = jcm__s(c->args, "id");
  jcm_stmt *s = db_q(c->st, q, "s", id);
  int step = s ? db_step(c->st, s) : JCM_STEP_ERROR;
  int self = step == JCM_ROW && col_int(c->st, s, 0) != 0;
  if (s) db_reset(c->st, s);
  if (step == JCM_STEP_ERROR) return jcm__dberr(c, "registry");
  if (step != JCM_ROW) return jcm__refuse(c, C_LINK_UNKNOWN_REGISTRY, "id", "no registry %s (add it first)", id);
  if (self) return jcm__refuse(c, C_LINK_SELF, "id", "%s is this registry: use jcm key generate", id);
  return JCM_OK;
}

int jcm__apply_registry_key(jcm_ctx *c) {
  static const char q[] = "UPDATE registry SET public_key = ? WHERE id = ?";
  return db_x(c->st, q, "ss", jcm__s(c->args, "public_key"), jcm__s(c->args, "id")) == 0 ? JCM_OK
                                                                                         : jcm__dberr(c, "registry");
}

/* ---- messages ---- */

/* Signs body (with type, from, to, n and tx added) for peer and appends it
 * to out.messages; apply writes it to the outbox. */
static int make_message(jcm_ctx *c, const char *peer, const char *type, const char *tx, json_t *body) {
  unsigned char sk[crypto_sign_SECRETKEYBYTES], sig[crypto_sign_BYTES];
  char counter[32], sig_hex[2 * crypto_sign_BYTES + 1];
  int64_t n = 0;
  snprintf(counter, sizeof counter, "out:%s", peer);
  int rc = own_secret(c, sk);
  if (rc == JCM_OK) rc = jcm__next(c, counter, &n);
  if (rc != JCM_OK) return rc;
  json_t *head = json_pack("{s:s,s:s,s:s,s:I,s:s}", "type", type, "from", c->j->registry, "to", peer, "n",
                           (json_int_t)n, "tx", tx);
  json_object_update(body, head);
  json_decref(head);
  char *bytes = jcm__canonical(body);
  if (!bytes) return jcm__refuse(c, C_TOO_MANY, "", "out of memory");
  crypto_sign_detached(sig, NULL, (const unsigned char *)bytes, strlen(bytes), sk);
  sodium_memzero(sk, sizeof sk);
  jcm__hex(sig, sizeof sig, sig_hex);
  json_t *messages = json_object_get(c->out, "messages");
  if (!messages) json_object_set_new(c->out, "messages", messages = json_array());
  json_array_append_new(messages, json_pack("{s:s,s:I,s:s,s:s,s:s,s:s}", "peer", peer, "n", (json_int_t)n, "type", type,
                                            "tx", tx, "msg", bytes, "sig", sig_hex));
  free(bytes);
  return JCM_OK;
}

static int apply_messages(jcm_ctx *c) {
  static const char q[] = "INSERT INTO outbox(peer, n, type, tx, msg, sig, seq) VALUES (?, ?, ?, ?, ?, ?, ?)";
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(c->out, "messages"), i, m) {
    char counter[32];
    snprintf(counter, sizeof counter, "out:%s", jcm__s(m, "peer"));
    if (db_x(c->st, q, "sissssi", jcm__s(m, "peer"), jcm__i(m, "n", 0), jcm__s(m, "type"), jcm__s(m, "tx"),
             jcm__s(m, "msg"), jcm__s(m, "sig"), c->seq) != 0 ||
        jcm__counter_set(c, counter, jcm__i(m, "n", 0)) != 0)
      return jcm__dberr(c, "outbox");
  }
  return JCM_OK;
}

/* ---- the external transfer's record on each side ---- */

typedef struct xtx_row {
  char dir[4], peer[16], status[16], from[32], to[32];
  int64_t quantity;
  json_t *proposal; /* parsed; owned */
} xtx_row;

/* 1 found, 0 not, -1 store error. */
static int xtx_get(jcm_store *st, const char *id, xtx_row *x) {
  static const char q[] =
      "SELECT dir, peer, status, from_account, to_account, quantity, proposal FROM xtx WHERE id = ?";
  memset(x, 0, sizeof *x);
  jcm_stmt *s = db_q(st, q, "s", id);
  if (!s) return -1;
  int step = db_step(st, s);
  if (step == JCM_ROW) {
    snprintf(x->dir, sizeof x->dir, "%s", col_text(st, s, 0));
    snprintf(x->peer, sizeof x->peer, "%s", col_text(st, s, 1));
    snprintf(x->status, sizeof x->status, "%s", col_text(st, s, 2));
    snprintf(x->from, sizeof x->from, "%s", col_text(st, s, 3));
    snprintf(x->to, sizeof x->to, "%s", col_text(st, s, 4));
    x->quantity = col_int(st, s, 5);
    x->proposal = json_loads(col_text(st, s, 6), 0, NULL);
  }
  db_reset(st, s);
  return step == JCM_ROW ? 1 : step == JCM_DONE ? 0 : -1;
}

static int xtx_set_status(jcm_ctx *c, const char *id, const char *status, int64_t code, const char *reason) {
  static const char q[] = "UPDATE xtx SET status = ?, code = NULLIF(?, 0), reason = ?, updated_seq = ? WHERE id = ?";
  return db_x(c->st, q, "sisis", status, code, reason, c->seq, id) == 0 ? JCM_OK : jcm__dberr(c, "transfer");
}

const char jcm__q_release[] = "UPDATE block SET reserved_tx = NULL WHERE reserved_tx = ?";

/* Every statement here that changes blocks forgets the writer's lists of
 * free blocks (free_blocks.c): they are read again when next needed. */
int jcm__release(jcm_ctx *c, const char *tx) {
  jcm__free_forget(c->j);
  return db_x(c->st, jcm__q_release, "s", tx) == 0 ? JCM_OK : jcm__dberr(c, "release");
}

/* ---- proposing (the sending registry) ---- */

/* A block piece as the message carries it: every attribute, so that the
 * acquiring registry holds the units exactly as they were issued. */
static json_t *piece_json(const jcm_piece *x) {
  return json_pack("{s:s,s:I,s:I,s:s,s:s,s:I,s:s,s:s,s:I,s:b,s:s?}", "origin", x->origin, "first", (json_int_t)x->first,
                   "last", (json_int_t)x->last, "issuance", x->issuance, "project", x->project, "vintage",
                   (json_int_t)x->vintage, "unit_type", x->unit_type, "auth_id", x->auth_id, "auth_version",
                   (json_int_t)x->auth_version, "first_transferred", x->first_transferred, "ft_to",
                   x->ft_to[0] ? x->ft_to : NULL);
}

/* Every piece authorized, and for the acquiring Party. */
static int check_outgoing(jcm_ctx *c, const jcm_pieces *p, const char *party, json_t *blocks, json_t *auths) {
  for (size_t i = 0; i < p->n; i++) {
    const jcm_piece *x = &p->v[i];
    if (!x->auth_id[0])
      return jcm__refuse(c, C_A6_NOT_AUTHORIZED, "quantity",
                         "serial %lld of %s is not authorized under Article 6: it cannot leave this registry",
                         (long long)x->first, x->origin);
    int err = 0;
    json_t *auth = jcm__a6_auth(c->st, x->auth_id, x->auth_version, &err);
    if (!auth) return err ? jcm__dberr(c, "auth") : jcm__refuse(c, C_A6_NOT_AUTHORIZED, "quantity", "no authorization");
    int allowed = jcm__a6_listed(jcm__s(auth, "parties"), party);
    char key[64];
    snprintf(key, sizeof key, "%s/%lld", x->auth_id, (long long)x->auth_version);
    json_object_set(auths, key, auth);
    json_decref(auth);
    if (!allowed)
      return jcm__refuse(c, C_A6_PARTY_NOT_AUTHORIZED, "to", "authorization %s does not authorize %s to acquire",
                         x->auth_id, party);
    json_array_append_new(blocks, piece_json(x));
  }
  return JCM_OK;
}

static int propose_message(jcm_ctx *c, const char *peer, json_t *blocks, json_t *auths) {
  json_t *list = json_array();
  const char *k;
  json_t *v;
  json_object_foreach(auths, k, v) json_array_append(list, v);
  json_t *body =
      json_pack("{s:s,s:s,s:O,s:o,s:o}", "from_account", jcm__s(c->args, "from"), "to_account", jcm__s(c->args, "to"),
                "quantity", json_object_get(c->out, "quantity"), "blocks", json_incref(blocks), "auths", list);
  int rc = make_message(c, peer, "proposal", jcm__s(c->out, "tx"), body);
  json_decref(body);
  return rc;
}

int jcm__check_xfer_propose(jcm_ctx *c) {
  const char *from = jcm__s(c->args, "from"), *to = jcm__s(c->args, "to");
  char peer[6];
  snprintf(peer, sizeof peer, "%.5s", to);
  peer_info pi;
  int rc = peer_get(c, peer, "to", &pi);
  if (rc == JCM_OK) rc = jcm__check_source(c, from);
  if (rc == JCM_OK) rc = jcm__resolve_units(c, from);
  jcm_pieces p = {0};
  json_t *blocks = json_array(), *auths = json_object();
  if (rc == JCM_OK) rc = jcm__a6_pieces(c, json_object_get(c->out, "ranges"), &p);
  if (rc == JCM_OK) rc = check_outgoing(c, &p, pi.party, blocks, auths);
  if (rc == JCM_OK) rc = jcm__new_tx(c, "xtx", 'X');
  if (rc == JCM_OK) rc = propose_message(c, peer, blocks, auths);
  if (rc == JCM_OK) {
    json_object_set_new(c->out, "peer", json_string(peer));
    json_object_set_new(c->out, "status", json_string("proposed"));
  }
  json_decref(blocks);
  json_decref(auths);
  jcm__a6_pieces_free(&p);
  return rc;
}

int jcm__reserve(jcm_ctx *c, const char *from, const char *tx, json_t *ranges) {
  static const char q[] =
      "UPDATE block SET reserved_tx = ? WHERE origin = ? AND first >= ? AND first <= ? AND account = ?";
  size_t i;
  json_t *r;
  jcm__free_forget(c->j);
  json_array_foreach(ranges, i, r) {
    const char *origin = jcm__s(r, "origin");
    int64_t f = jcm__i(r, "first", 0), l = jcm__i(r, "last", 0);
    int rc = jcm__blocks_isolate(c, origin, f, l);
    if (rc != JCM_OK) return rc;
    if (db_x(c->st, q, "ssiis", tx, origin, f, l, from) != 0) return jcm__dberr(c, "reserve");
  }
  return JCM_OK;
}

static int insert_xtx(jcm_ctx *c, const char *id, const char *dir, const char *peer, const char *status,
                      const char *from, const char *to, int64_t quantity, const char *proposal, int64_t code,
                      const char *reason) {
  static const char q[] = "INSERT INTO xtx(id, dir, peer, status, from_account, to_account, quantity, proposal, code,"
                          " reason, seq, updated_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, 0), ?, ?, ?)";
  return db_x(c->st, q, "ssssssisisii", id, dir, peer, status, from, to, quantity, proposal, code, reason, c->seq,
              c->seq) == 0
             ? JCM_OK
             : jcm__dberr(c, "transfer");
}

int jcm__apply_xfer_propose(jcm_ctx *c) {
  const char *tx = jcm__s(c->out, "tx");
  json_t *msg = json_array_get(json_object_get(c->out, "messages"), 0);
  int rc = jcm__reserve(c, jcm__s(c->args, "from"), tx, json_object_get(c->out, "ranges"));
  if (rc == JCM_OK)
    rc = insert_xtx(c, tx, "out", jcm__s(c->out, "peer"), "proposed", jcm__s(c->args, "from"), jcm__s(c->args, "to"),
                    jcm__i(c->out, "quantity", 0), jcm__s(msg, "msg"), 0, NULL);
  if (rc == JCM_OK) rc = apply_messages(c);
  if (rc == JCM_OK && jcm__counter_set(c, "xtx", jcm__i(c->out, "tx_number", 0)) != 0) rc = jcm__dberr(c, "xtx");
  return rc;
}

/* ---- terminating (the sending registry, before completion) ---- */

static int outgoing_proposed(jcm_ctx *c, const char *tx, xtx_row *x) {
  int e = xtx_get(c->st, tx, x);
  if (e < 0) return jcm__dberr(c, "transfer");
  if (!e || strcmp(x->dir, "out") != 0)
    return jcm__refuse(c, C_UNKNOWN_TX, "tx", "no outgoing external transfer %s", tx);
  if (strcmp(x->status, "proposed") != 0)
    return jcm__refuse(c, C_LINK_STATUS, "tx", "transfer %s is %s already", tx, x->status);
  return JCM_OK;
}

int jcm__check_xfer_terminate(jcm_ctx *c) {
  const char *tx = jcm__s(c->args, "tx");
  xtx_row x;
  int rc = outgoing_proposed(c, tx, &x);
  json_t *body = json_pack("{s:s}", "reason", jcm__s(c->args, "reason"));
  if (rc == JCM_OK) rc = make_message(c, x.peer, "terminated", tx, body);
  json_decref(body);
  json_decref(x.proposal);
  return rc;
}

int jcm__apply_xfer_terminate(jcm_ctx *c) {
  const char *tx = jcm__s(c->args, "tx");
  int rc = jcm__release(c, tx);
  if (rc == JCM_OK) rc = xtx_set_status(c, tx, "terminated", C_LINK_TERMINATED, jcm__s(c->args, "reason"));
  return rc == JCM_OK ? apply_messages(c) : rc;
}

/* ---- receiving ---- */

static int malformed(jcm_ctx *c, const char *what) {
  return jcm__refuse(c, C_LINK_MALFORMED, "msg", "the message %s", what);
}

/* Parses the message, checks its addressing and its signature. */
static int open_message(jcm_ctx *c, json_t **m, peer_info *pi) {
  const char *text = jcm__s(c->args, "msg"), *sig_hex = jcm__s(c->args, "sig");
  *m = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
  if (!json_is_object(*m)) return malformed(c, "is not a JSON object");
  const char *type = jcm__s(*m, "type"), *from = jcm__s(*m, "from"), *to = jcm__s(*m, "to"), *tx = jcm__s(*m, "tx");
  if (!type || !from || !to || !tx || !json_is_integer(json_object_get(*m, "n")) || jcm__i(*m, "n", 0) < 1)
    return malformed(c, "lacks type, from, to, n or tx");
  if (strcmp(to, c->j->registry) != 0) return malformed(c, "is addressed to another registry");
  if (!jcm__is_registry(from)) return malformed(c, "names no registry as its sender");
  int rc = peer_get(c, from, "msg", pi);
  if (rc != JCM_OK) return rc;
  unsigned char sig[crypto_sign_BYTES];
  if (sodium_hex2bin(sig, sizeof sig, sig_hex, strlen(sig_hex), NULL, NULL, NULL) != 0 ||
      crypto_sign_verify_detached(sig, (const unsigned char *)text, strlen(text), pi->pk) != 0)
    return jcm__refuse(c, C_LINK_SIGNATURE, "sig", "the signature does not verify with %s's key: forged or altered",
                       from);
  return JCM_OK;
}

/* Refuses a message received before (7003 if the same, 7007 if not) or one
 * that skips a number (7004). */
static int check_sequence(jcm_ctx *c, json_t *m, const unsigned char hash[32]) {
  static const char q_last[] = "SELECT COALESCE(MAX(n), 0) FROM inbox WHERE peer = ?";
  static const char q_seen[] = "SELECT hash FROM inbox WHERE peer = ? AND n = ?";
  const char *from = jcm__s(m, "from");
  int64_t n = jcm__i(m, "n", 0), last = 0;
  jcm_stmt *s = db_q(c->st, q_last, "s", from);
  if (!s || db_step(c->st, s) != JCM_ROW) {
    if (s) db_reset(c->st, s);
    return jcm__dberr(c, "inbox");
  }
  last = col_int(c->st, s, 0);
  db_reset(c->st, s);
  if (n > last + 1)
    return jcm__refuse(c, C_LINK_SEQUENCE, "msg", "message %lld from %s arrived before %lld", (long long)n, from,
                       (long long)last + 1);
  if (n == last + 1) return JCM_OK;
  s = db_q(c->st, q_seen, "si", from, n);
  if (!s || db_step(c->st, s) != JCM_ROW) {
    if (s) db_reset(c->st, s);
    return jcm__dberr(c, "inbox");
  }
  int same = c->st->ops->column_bytes(s, 0) == 32 && memcmp(c->st->ops->column_blob(s, 0), hash, 32) == 0;
  db_reset(c->st, s);
  return same ? jcm__refuse(c, C_LINK_DUPLICATE, "msg", "message %lld from %s was received already", (long long)n, from)
              : jcm__refuse(c, C_LINK_CONFLICT, "msg", "a different message %lld from %s was received", (long long)n,
                            from);
}

/* An issuance id of the originating registry (ORIGN-I-nnnnnn): an issuance
 * of another registry would be counted in its conservation check. */
static int origins_issuance(const char *issuance, const char *origin) {
  return strlen(issuance) == 14 && strncmp(issuance, origin, 5) == 0 && strncmp(issuance + 5, "-I-", 3) == 0 &&
         strspn(issuance + 8, "0123456789") == 6;
}

/* The blocks of a proposal as pieces (0 when they are malformed). */
static int message_pieces(json_t *blocks, jcm_pieces *p, int64_t *total) {
  size_t i;
  json_t *b;
  *total = 0;
  if (!json_is_array(blocks) || json_array_size(blocks) == 0) return 0;
  json_array_foreach(blocks, i, b) {
    const char *origin = jcm__s(b, "origin"), *auth = jcm__s(b, "auth_id");
    int64_t f = jcm__i(b, "first", 0), l = jcm__i(b, "last", 0);
    /* versions start at 1: version 0 looks up the latest one */
    if (!origin || !jcm__is_registry(origin) || !auth || f < 1 || l < f || jcm__i(b, "auth_version", 0) < 1 ||
        !jcm__s(b, "issuance") || !jcm__s(b, "project") || !jcm__s(b, "unit_type") || *total > INT64_MAX - (l - f + 1))
      return 0;
    jcm_piece x = {
        .first = f, .last = l, .vintage = jcm__i(b, "vintage", 0), .auth_version = jcm__i(b, "auth_version", 0)};
    /* a text too long for the piece would be cut here but credited whole:
     * the units would then fall under an authorization not carried */
    size_t cut = 0;
    cut |= (size_t)snprintf(x.origin, sizeof x.origin, "%s", origin) >= sizeof x.origin;
    cut |= (size_t)snprintf(x.auth_id, sizeof x.auth_id, "%s", auth) >= sizeof x.auth_id;
    cut |= (size_t)snprintf(x.issuance, sizeof x.issuance, "%s", jcm__s(b, "issuance")) >= sizeof x.issuance;
    cut |= (size_t)snprintf(x.project, sizeof x.project, "%s", jcm__s(b, "project")) >= sizeof x.project;
    cut |= (size_t)snprintf(x.unit_type, sizeof x.unit_type, "%s", jcm__s(b, "unit_type")) >= sizeof x.unit_type;
    const char *ft_to = jcm__s(b, "ft_to") ? jcm__s(b, "ft_to") : "";
    cut |= (size_t)snprintf(x.ft_to, sizeof x.ft_to, "%s", ft_to) >= sizeof x.ft_to;
    if (cut || !origins_issuance(x.issuance, origin)) return 0;
    x.first_transferred = json_is_true(json_object_get(b, "first_transferred"));
    if (jcm__a6_push_piece(p, &x) != 0) return 0;
    *total += l - f + 1;
  }
  return 1;
}

static int piece_order(const void *a, const void *b) {
  const jcm_piece *x = a, *y = b;
  int o = strcmp(x->origin, y->origin);
  return o ? o : x->first < y->first ? -1 : x->first > y->first;
}

/* 1 when no serial is in two of the pieces (0 also when out of memory): the
 * acquirer credits every piece, so a serial named twice would be held twice. */
static int pieces_disjoint(const jcm_pieces *p) {
  if (p->n < 2) return 1;
  jcm_piece *v = malloc(p->n * sizeof *v);
  if (!v) return 0;
  memcpy(v, p->v, p->n * sizeof *v);
  qsort(v, p->n, sizeof *v, piece_order);
  int ok = 1;
  for (size_t i = 1; i < p->n; i++)
    ok &= strcmp(v[i].origin, v[i - 1].origin) != 0 || v[i].first > v[i - 1].last;
  free(v);
  return ok;
}

/* 1 when this registry knows the authorization's id and version with other
 * terms (another Party, registry, approach, purposes or Parties), or does
 * not know one said to be its own Party's: the units would otherwise fall
 * under an authorization they were never given. */
static int known_differently(jcm_ctx *c, json_t *auth) {
  static const char *const keys[] = {"party", "registry", "coop", "purposes", "parties"};
  int err = 0;
  json_t *here = jcm__a6_auth(c->st, jcm__s(auth, "id"), jcm__i(auth, "version", 0), &err);
  if (err) return -1;
  /* one of this Party's own that its registry never recorded is forged */
  int differs = !here && jcm__s(auth, "party") && strcmp(jcm__s(auth, "party"), c->j->party) == 0;
  for (size_t k = 0; here && k < sizeof keys / sizeof keys[0]; k++) {
    const char *a = jcm__s(here, keys[k]), *b = jcm__s(auth, keys[k]);
    differs |= !a || !b || strcmp(a, b) != 0;
  }
  json_decref(here);
  return differs;
}

/* 1 when a piece of p shares a serial with a transfer this registry has
 * accepted and not yet been sent `complete` for (-1: store error): that
 * `complete` will credit those serials, and a second one for them could
 * then only be refused, stopping the channel with the units moved out. */
static int pending_overlap(jcm_ctx *c, const jcm_pieces *p, char *reason, size_t n) {
  static const char q[] = "SELECT id, proposal FROM xtx WHERE dir = 'in' AND status = 'accepted'";
  jcm_stmt *s = db_q(c->st, q, "");
  if (!s) return -1;
  int step, found = 0;
  while (!found && (step = db_step(c->st, s)) == JCM_ROW) {
    json_t *m = json_loads(col_text(c->st, s, 1), 0, NULL);
    jcm_pieces other = {0};
    int64_t total;
    if (m && message_pieces(json_object_get(m, "blocks"), &other, &total))
      for (size_t i = 0; i < p->n && !found; i++)
        for (size_t k = 0; k < other.n && !found; k++)
          found = strcmp(p->v[i].origin, other.v[k].origin) == 0 && p->v[i].first <= other.v[k].last &&
                  other.v[k].first <= p->v[i].last;
    if (found)
      snprintf(reason, n, "transfer %s accepted here will credit some of these serials", col_text(c->st, s, 0));
    jcm__a6_pieces_free(&other);
    json_decref(m);
  }
  db_reset(c->st, s);
  return found ? 1 : step == JCM_STEP_ERROR ? -1 : 0;
}

/* What the acquiring registry checks of a proposal; a failure is not a
 * refusal of the message but the reason of the `reject` answering it. */
static int judge_proposal(jcm_ctx *c, json_t *m, const jcm_pieces *p, char *reason, size_t n) {
  jcm_account a;
  const char *to = jcm__s(m, "to_account");
  int e = to ? jcm__account_get(c->st, to, &a) : 0;
  if (e < 0) return -1;
  if (!e) return snprintf(reason, n, "no account %s in %s", to ? to : "?", c->j->registry), C_DST_UNKNOWN;
  if (strcmp(a.status, "open") != 0) return snprintf(reason, n, "account %s is %s", to, a.status), C_DST_NOT_OPEN;
  if (strcmp(a.type, "holding") != 0 && strcmp(a.type, "government-holding") != 0)
    return snprintf(reason, n, "a %s account cannot acquire units", a.type), C_DST_TYPE;
  size_t i;
  json_t *auth;
  json_array_foreach(json_object_get(m, "auths"), i, auth) {
    if (!jcm__a6_listed(jcm__s(auth, "parties"), c->j->party))
      return snprintf(reason, n, "authorization %s does not authorize %s", jcm__s(auth, "id"), c->j->party),
             C_A6_PARTY_NOT_AUTHORIZED;
    int differs = known_differently(c, auth);
    if (differs < 0) return -1;
    if (differs)
      return snprintf(reason, n, "authorization %s version %lld is not known here with these terms", jcm__s(auth, "id"),
                      (long long)jcm__i(auth, "version", 0)),
             C_LINK_CONFLICT;
  }
  for (size_t k = 0; k < p->n; k++) {
    json_t *r = json_pack("[{s:s,s:I,s:I}]", "origin", p->v[k].origin, "first", (json_int_t)p->v[k].first, "last",
                          (json_int_t)p->v[k].last);
    jcm_pieces here = {0};
    int rc = jcm__a6_pieces(c, r, &here);
    json_decref(r);
    int held = 0;
    int64_t known = 0; /* serials with a row here (held or transferred out) */
    for (size_t h = 0; h < here.n; h++) {
      held |= here.v[h].account[0] != 0;
      known += here.v[h].last - here.v[h].first + 1;
    }
    jcm__a6_pieces_free(&here);
    if (rc != JCM_OK) return -1;
    if (held)
      return snprintf(reason, n, "%s serials %lld-%lld are held here already", p->v[k].origin, (long long)p->v[k].first,
                      (long long)p->v[k].last),
             C_LINK_HELD_HERE;
    /* units issued here come back only after leaving: a peer cannot mint them */
    if (strcmp(p->v[k].origin, c->j->registry) == 0 && known != p->v[k].last - p->v[k].first + 1)
      return snprintf(reason, n, "%s serials %lld-%lld were never issued here or never left", p->v[k].origin,
                      (long long)p->v[k].first, (long long)p->v[k].last),
             C_LINK_CONFLICT;
  }
  int pending = pending_overlap(c, p, reason, n);
  return pending < 0 ? -1 : pending ? C_LINK_HELD_HERE : 0;
}

static int refers_to(json_t *a, const jcm_piece *x) {
  return jcm__s(a, "id") && strcmp(jcm__s(a, "id"), x->auth_id) == 0 && jcm__i(a, "version", 0) == x->auth_version;
}

/* Each authorization a proposal refers to, carried with it, and no other:
 * the acquirer copies them all, and must not store one no unit is under. */
static int auths_complete(json_t *m, const jcm_pieces *p) {
  size_t i;
  json_t *a;
  for (size_t k = 0; k < p->n; k++) {
    int found = 0;
    json_array_foreach(json_object_get(m, "auths"), i, a) found |=
        refers_to(a, &p->v[k]) && jcm__s(a, "parties") && jcm__s(a, "party") && jcm__s(a, "coop");
    if (!found) return 0;
  }
  json_array_foreach(json_object_get(m, "auths"), i, a) {
    int used = 0;
    for (size_t k = 0; k < p->n && !used; k++)
      used = refers_to(a, &p->v[k]);
    if (!used) return 0;
  }
  return 1;
}

/* A proposal's transaction id is the sender's own (REG01-X-nnnnnn): ids
 * are unique per registry, so one peer must not take another's id (nor the
 * one this registry gives its own next transfer). */
static int senders_tx(const char *tx, const char *from) {
  return strlen(tx) == 14 && strncmp(tx, from, 5) == 0 && strncmp(tx + 5, "-X-", 3) == 0 &&
         strspn(tx + 8, "0123456789") == 6;
}

static int on_proposal(jcm_ctx *c, json_t *m) {
  const char *tx = jcm__s(m, "tx");
  xtx_row x;
  int e = xtx_get(c->st, tx, &x);
  json_decref(x.proposal);
  if (e < 0) return jcm__dberr(c, "transfer");
  if (e) return jcm__refuse(c, C_LINK_CONFLICT, "msg", "transfer %s was proposed before", tx);
  if (!senders_tx(tx, jcm__s(m, "from"))) return malformed(c, "names a transaction id that is not its sender's");
  jcm_pieces p = {0};
  int64_t total = 0;
  int rc = JCM_OK;
  if (!message_pieces(json_object_get(m, "blocks"), &p, &total) || !pieces_disjoint(&p) ||
      total != jcm__i(m, "quantity", -1) || !jcm__s(m, "from_account") || !jcm__s(m, "to_account") ||
      !auths_complete(m, &p))
    rc = malformed(c, "is a proposal without consistent blocks, accounts and authorizations");
  char reason[300] = "";
  int code = rc == JCM_OK ? judge_proposal(c, m, &p, reason, sizeof reason) : 0;
  if (code < 0) rc = jcm__dberr(c, "proposal");
  if (rc == JCM_OK) {
    json_t *body = code ? json_pack("{s:i,s:s}", "code", code, "reason", reason) : json_object();
    rc = make_message(c, jcm__s(m, "from"), code ? "reject" : "accept", tx, body);
    json_decref(body);
    json_object_set_new(c->out, "effect", json_string(code ? "rejected" : "accepted"));
    if (code) json_object_set_new(c->out, "code", json_integer(code));
    if (code) json_object_set_new(c->out, "reason", json_string(reason));
  }
  jcm__a6_pieces_free(&p);
  return rc;
}

static int copy_auths(jcm_ctx *c, json_t *m) {
  static const char q[] =
      "INSERT INTO auth(id, version, registry, party, date, coop, quantity, metric, gwp, non_ghg_metric, sectors,"
      " activities, purposes, parties, entities, oimp_party, first_year, last_year, terms, oimp_first_transfer,"
      " info, scope, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, 0), NULLIF(?, 0), ?, ?,"
      " ?, ?, ?) ON CONFLICT(id, version) DO NOTHING";
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(m, "auths"), i, a) {
    if (db_x(c->st, q, "sissssisssssssssiissssi", jcm__s(a, "id"), jcm__i(a, "version", 0), jcm__s(a, "registry"),
             jcm__s(a, "party"), jcm__s(a, "date"), jcm__s(a, "coop"), jcm__i(a, "quantity", 0), jcm__s(a, "metric"),
             jcm__s(a, "gwp"), jcm__s(a, "non_ghg_metric"), jcm__s(a, "sectors"), jcm__s(a, "activities"),
             jcm__s(a, "purposes"), jcm__s(a, "parties"), jcm__s(a, "entities"), jcm__s(a, "oimp_party"),
             jcm__i(a, "first_year", 0), jcm__i(a, "last_year", 0), jcm__s(a, "terms"),
             jcm__s(a, "oimp_first_transfer"), jcm__s(a, "info"), jcm__s(a, "scope"), c->seq) != 0)
      return jcm__dberr(c, "auth");
  }
  return JCM_OK;
}

static int apply_proposal(jcm_ctx *c, json_t *m) {
  int accepted = strcmp(jcm__s(c->out, "effect"), "accepted") == 0;
  int rc = accepted ? copy_auths(c, m) : JCM_OK;
  if (rc == JCM_OK)
    rc = insert_xtx(c, jcm__s(m, "tx"), "in", jcm__s(m, "from"), accepted ? "accepted" : "rejected",
                    jcm__s(m, "from_account"), jcm__s(m, "to_account"), jcm__i(m, "quantity", 0),
                    jcm__s(c->args, "msg"), jcm__i(c->out, "code", 0), jcm__s(c->out, "reason"));
  return rc == JCM_OK ? apply_messages(c) : rc;
}

/* ---- the answers, at the sending registry ---- */

/* The transfer a message from peer is about, on the side dir. */
static int transfer_of(jcm_ctx *c, json_t *m, const char *dir, xtx_row *x) {
  int e = xtx_get(c->st, jcm__s(m, "tx"), x);
  if (e < 0) return jcm__dberr(c, "transfer");
  if (!e || strcmp(x->dir, dir) != 0 || strcmp(x->peer, jcm__s(m, "from")) != 0 || !x->proposal)
    return jcm__refuse(c, C_UNKNOWN_TX, "msg", "no transfer %s with %s here", jcm__s(m, "tx"), jcm__s(m, "from"));
  return JCM_OK;
}

static int first_or_not(const jcm_piece *x, json_t *auth, void *ud) {
  int first = !x->first_transferred && jcm__a6_for_ndc(jcm__s(auth, "purposes"));
  return ud ? first : !first;
}

static int on_accept(jcm_ctx *c, json_t *m, const char *peer_party) {
  xtx_row x;
  int rc = transfer_of(c, m, "out", &x);
  if (rc == JCM_OK && strcmp(x.status, "terminated") == 0) {
    json_object_set_new(c->out, "effect", json_string("none")); /* our `terminated` is on its way */
  } else if (rc == JCM_OK && strcmp(x.status, "proposed") != 0) {
    rc = jcm__refuse(c, C_LINK_STATUS, "msg", "transfer %s is %s", jcm__s(m, "tx"), x.status);
  } else if (rc == JCM_OK) {
    jcm_pieces p = {0};
    int64_t total;
    /* the pieces as proposed, with their first-transfer state as it is now */
    if (!message_pieces(json_object_get(x.proposal, "blocks"), &p, &total))
      rc = malformed(c, "refers to a proposal this registry cannot read");
    json_t *extra = json_pack("{s:s,s:s}", "acquiring", peer_party, "tx", jcm__s(m, "tx"));
    if (rc == JCM_OK)
      rc = jcm__a6_add_actions(c, &p, first_or_not, (void *)1, "First transfer", "First transfer to another Party",
                               extra);
    if (rc == JCM_OK) rc = jcm__a6_add_actions(c, &p, first_or_not, NULL, "Transfer", "Not yet defined", extra);
    json_decref(extra);
    json_t *body = json_object();
    if (rc == JCM_OK) rc = make_message(c, jcm__s(m, "from"), "complete", jcm__s(m, "tx"), body);
    json_decref(body);
    json_object_set_new(c->out, "effect", json_string("completed"));
    json_object_set_new(c->out, "from_account", json_string(x.from));
    jcm__a6_pieces_free(&p);
  }
  json_decref(x.proposal);
  return rc;
}

static json_t *ranges_of(json_t *blocks) {
  json_t *out = json_array();
  size_t i;
  json_t *b;
  json_array_foreach(blocks, i, b)
      json_array_append_new(out, json_pack("{s:O,s:O,s:O}", "origin", json_object_get(b, "origin"), "first",
                                           json_object_get(b, "first"), "last", json_object_get(b, "last")));
  return out;
}

static int apply_completed(jcm_ctx *c, json_t *m) {
  static const char q[] = "UPDATE block SET account = NULL, reserved_tx = NULL, out_tx = ? WHERE reserved_tx = ?"
                          " AND origin = ? AND first >= ? AND first <= ?";
  const char *tx = jcm__s(m, "tx");
  xtx_row x;
  if (xtx_get(c->st, tx, &x) != 1) return jcm__dberr(c, "transfer");
  json_t *ranges = ranges_of(json_object_get(x.proposal, "blocks"));
  int rc = jcm__a6_apply_first_transfers(c);
  jcm__free_forget(c->j);
  size_t i;
  json_t *r;
  json_array_foreach(ranges, i, r) {
    if (rc == JCM_OK &&
        db_x(c->st, q, "sssii", tx, tx, jcm__s(r, "origin"), jcm__i(r, "first", 0), jcm__i(r, "last", 0)) != 0)
      rc = jcm__dberr(c, "complete");
  }
  if (rc == JCM_OK) rc = jcm__movement(c, tx, x.from, -1, ranges);
  if (rc == JCM_OK) rc = xtx_set_status(c, tx, "completed", 0, NULL);
  if (rc == JCM_OK) rc = jcm__a6_apply_actions(c);
  if (rc == JCM_OK) rc = apply_messages(c);
  json_decref(ranges);
  json_decref(x.proposal);
  return rc;
}

static int on_reject(jcm_ctx *c, json_t *m) {
  xtx_row x;
  int rc = transfer_of(c, m, "out", &x);
  if (rc == JCM_OK && strcmp(x.status, "terminated") == 0)
    json_object_set_new(c->out, "effect", json_string("none"));
  else if (rc == JCM_OK && strcmp(x.status, "proposed") != 0)
    rc = jcm__refuse(c, C_LINK_STATUS, "msg", "transfer %s is %s", jcm__s(m, "tx"), x.status);
  else if (rc == JCM_OK)
    json_object_set_new(c->out, "effect", json_string("released"));
  json_decref(x.proposal);
  return rc;
}

/* ---- the answers, at the acquiring registry ---- */

/* Splits each proposed piece into the serials this registry has seen
 * before (rows left when they were transferred out: updated) and those it
 * never held (inserted). */
static void plan_step(json_t *plan, size_t piece, int64_t first, int64_t last, int seen) {
  json_array_append_new(plan, json_pack("{s:I,s:I,s:I,s:b}", "piece", (json_int_t)piece, "first", (json_int_t)first,
                                        "last", (json_int_t)last, "seen", seen));
}

static int credit_plan(jcm_ctx *c, const jcm_pieces *p, json_t *plan) {
  for (size_t k = 0; k < p->n; k++) {
    const jcm_piece *x = &p->v[k];
    json_t *r =
        json_pack("[{s:s,s:I,s:I}]", "origin", x->origin, "first", (json_int_t)x->first, "last", (json_int_t)x->last);
    jcm_pieces here = {0};
    int rc = jcm__a6_pieces(c, r, &here);
    json_decref(r);
    /* next is the first serial not planned yet; `done` rather than
     * next > last, since next cannot pass 2^63-1 */
    int64_t next = x->first;
    bool done = false;
    for (size_t h = 0; rc == JCM_OK && h < here.n; h++) {
      const jcm_piece *y = &here.v[h]; /* within [x->first, x->last] */
      if (y->account[0])
        rc = jcm__refuse(c, C_LINK_HELD_HERE, "msg", "serial %lld of %s is held here already", (long long)y->first,
                         x->origin);
      if (rc == JCM_OK && y->first > next) plan_step(plan, k, next, y->first - 1, 0);
      if (rc == JCM_OK) plan_step(plan, k, y->first, y->last, 1);
      done = y->last == x->last;
      if (!done) next = y->last + 1;
    }
    if (rc == JCM_OK && !done) plan_step(plan, k, next, x->last, 0);
    jcm__a6_pieces_free(&here);
    if (rc != JCM_OK) return rc;
  }
  return JCM_OK;
}

static int on_complete(jcm_ctx *c, json_t *m, const char *peer_party) {
  xtx_row x;
  int rc = transfer_of(c, m, "in", &x);
  if (rc == JCM_OK && strcmp(x.status, "accepted") != 0)
    rc = jcm__refuse(c, C_LINK_STATUS, "msg", "transfer %s is %s here", jcm__s(m, "tx"), x.status);
  jcm_pieces p = {0};
  int64_t total;
  if (rc == JCM_OK && !message_pieces(json_object_get(x.proposal, "blocks"), &p, &total))
    rc = malformed(c, "refers to a proposal this registry cannot read");
  json_t *plan = json_array();
  if (rc == JCM_OK) rc = credit_plan(c, &p, plan);
  json_t *extra = json_pack("{s:s,s:s}", "transferring", peer_party, "tx", jcm__s(m, "tx"));
  if (rc == JCM_OK) rc = jcm__a6_add_actions(c, &p, NULL, NULL, "Acquisition", NULL, extra);
  json_decref(extra);
  if (rc == JCM_OK) {
    json_object_set_new(c->out, "effect", json_string("credited"));
    json_object_set_new(c->out, "plan", json_incref(plan));
    json_object_set_new(c->out, "to_account", json_string(x.to));
  }
  json_decref(plan);
  jcm__a6_pieces_free(&p);
  json_decref(x.proposal);
  return rc;
}

/* The units become the acquirer's with every attribute they were issued
 * with; NDC-authorized units are first transferred by now. */
static int credit_one(jcm_ctx *c, json_t *step, json_t *b, const char *to) {
  static const char q_seen[] =
      "UPDATE block SET account = ?, out_tx = NULL, reserved_tx = NULL, auth_id = ?, auth_version = ?,"
      " ft_seq = COALESCE(ft_seq, NULLIF(?, 0)), ft_to = COALESCE(ft_to, ?) WHERE origin = ? AND first >= ? AND first "
      "<= ?";
  static const char q_new[] =
      "INSERT INTO block(origin, first, last, issuance, project, vintage, unit_type, account, auth_id, auth_version,"
      " ft_seq, ft_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, 0), ?)";
  const char *origin = jcm__s(b, "origin");
  int64_t f = jcm__i(step, "first", 0), l = jcm__i(step, "last", 0);
  int err = 0;
  json_t *auth = jcm__a6_auth(c->st, jcm__s(b, "auth_id"), jcm__i(b, "auth_version", 0), &err);
  int ft = json_is_true(json_object_get(b, "first_transferred")) || jcm__a6_for_ndc(jcm__s(auth, "purposes"));
  const char *ft_to = jcm__s(b, "ft_to") ? jcm__s(b, "ft_to") : ft ? c->j->party : NULL;
  json_decref(auth);
  if (err) return jcm__dberr(c, "auth");
  jcm__free_forget(c->j);
  if (json_is_true(json_object_get(step, "seen"))) {
    int rc = jcm__blocks_isolate(c, origin, f, l);
    if (rc != JCM_OK) return rc;
    return db_x(c->st, q_seen, "ssiissii", to, jcm__s(b, "auth_id"), jcm__i(b, "auth_version", 0),
                ft ? c->seq : (int64_t)0, ft_to, origin, f, l) == 0
               ? JCM_OK
               : jcm__dberr(c, "credit");
  }
  return db_x(c->st, q_new, "siississsiis", origin, f, l, jcm__s(b, "issuance"), jcm__s(b, "project"),
              jcm__i(b, "vintage", 0), jcm__s(b, "unit_type"), to, jcm__s(b, "auth_id"), jcm__i(b, "auth_version", 0),
              ft ? c->seq : (int64_t)0, ft_to) == 0
             ? JCM_OK
             : jcm__dberr(c, "credit");
}

static int apply_credited(jcm_ctx *c, json_t *m) {
  const char *tx = jcm__s(m, "tx"), *to = jcm__s(c->out, "to_account");
  xtx_row x;
  if (xtx_get(c->st, tx, &x) != 1) return jcm__dberr(c, "transfer");
  json_t *blocks = json_object_get(x.proposal, "blocks");
  int rc = JCM_OK;
  size_t i;
  json_t *step;
  json_array_foreach(json_object_get(c->out, "plan"), i, step) {
    if (rc == JCM_OK) rc = credit_one(c, step, json_array_get(blocks, (size_t)jcm__i(step, "piece", 0)), to);
  }
  json_t *ranges = ranges_of(blocks);
  if (rc == JCM_OK) rc = jcm__movement(c, tx, to, +1, ranges);
  if (rc == JCM_OK) rc = xtx_set_status(c, tx, "completed", 0, NULL);
  if (rc == JCM_OK) rc = jcm__a6_apply_actions(c);
  json_decref(ranges);
  json_decref(x.proposal);
  return rc;
}

static int on_terminated(jcm_ctx *c, json_t *m) {
  xtx_row x;
  int rc = transfer_of(c, m, "in", &x);
  if (rc == JCM_OK && strcmp(x.status, "accepted") == 0)
    json_object_set_new(c->out, "effect", json_string("terminated"));
  else if (rc == JCM_OK && strcmp(x.status, "rejected") == 0)
    json_object_set_new(c->out, "effect", json_string("none"));
  else if (rc == JCM_OK)
    rc = jcm__refuse(c, C_LINK_STATUS, "msg", "transfer %s is %s here", jcm__s(m, "tx"), x.status);
  json_decref(x.proposal);
  return rc;
}

/* ---- the command ---- */

int jcm__check_link_receive(jcm_ctx *c) {
  json_t *m = NULL;
  peer_info pi;
  unsigned char hash[32];
  const char *text = jcm__s(c->args, "msg");
  crypto_hash_sha256(hash, (const unsigned char *)text, strlen(text));
  int rc = open_message(c, &m, &pi);
  if (rc == JCM_OK) rc = check_sequence(c, m, hash);
  const char *type = rc == JCM_OK ? jcm__s(m, "type") : "";
  if (rc != JCM_OK)
    ;
  else if (strcmp(type, "proposal") == 0)
    rc = on_proposal(c, m);
  else if (strcmp(type, "accept") == 0)
    rc = on_accept(c, m, pi.party);
  else if (strcmp(type, "reject") == 0)
    rc = on_reject(c, m);
  else if (strcmp(type, "complete") == 0)
    rc = on_complete(c, m, pi.party);
  else if (strcmp(type, "terminated") == 0)
    rc = on_terminated(c, m);
  else
    rc = malformed(c, "has an unknown type");
  if (rc == JCM_OK) {
    char hex[65];
    jcm__hex(hash, 32, hex);
    json_object_set_new(c->out, "hash", json_string(hex));
    json_object_set_new(c->out, "type", json_string(type));
    json_object_set_new(c->out, "tx", json_string(jcm__s(m, "tx")));
  }
  json_decref(m);
  return rc;
}

int jcm__apply_link_receive(jcm_ctx *c) {
  static const char q[] = "INSERT INTO inbox(peer, n, type, tx, hash, seq) VALUES (?, ?, ?, ?, ?, ?)";
  json_t *m = json_loads(jcm__s(c->args, "msg"), 0, NULL);
  unsigned char hash[32];
  const char *hex = jcm__s(c->out, "hash"), *effect = jcm__s(c->out, "effect");
  if (!m || !hex || !effect || sodium_hex2bin(hash, 32, hex, 64, NULL, NULL, NULL) != 0)
    return json_decref(m), jcm__refuse(c, C_LINK_MALFORMED, "msg", "the journaled message cannot be read");
  int rc = db_x(c->st, q, "sissbi", jcm__s(m, "from"), jcm__i(m, "n", 0), jcm__s(m, "type"), jcm__s(m, "tx"), hash, 32,
                c->seq) == 0
               ? JCM_OK
               : jcm__dberr(c, "inbox");
  if (rc != JCM_OK)
    ;
  else if (strcmp(effect, "accepted") == 0 || strcmp(effect, "rejected") == 0)
    rc = apply_proposal(c, m);
  else if (strcmp(effect, "completed") == 0)
    rc = apply_completed(c, m);
  else if (strcmp(effect, "released") == 0) {
    rc = jcm__release(c, jcm__s(m, "tx"));
    if (rc == JCM_OK) rc = xtx_set_status(c, jcm__s(m, "tx"), "terminated", jcm__i(m, "code", 0), jcm__s(m, "reason"));
  } else if (strcmp(effect, "credited") == 0)
    rc = apply_credited(c, m);
  else if (strcmp(effect, "terminated") == 0)
    rc = xtx_set_status(c, jcm__s(m, "tx"), "terminated", C_LINK_TERMINATED, jcm__s(m, "reason"));
  json_decref(m);
  return rc;
}

/* ---- moving messages ---- */

const char *jcm_registry(jcm *j) {
  jcm__self(j, NULL); /* "" when it still cannot be read */
  return j->registry;
}

int jcm_link_last_received(jcm *j, const char *peer, int64_t *n) {
  static const char q[] = "SELECT COALESCE(MAX(n), 0) FROM inbox WHERE peer = ?";
  jcm_stmt *s = db_q(j->st, q, "s", peer);
  int step = s ? db_step(j->st, s) : JCM_STEP_ERROR;
  *n = step == JCM_ROW ? col_int(j->st, s, 0) : 0;
  if (s) db_reset(j->st, s);
  return step == JCM_ROW ? JCM_OK : JCM_ERROR;
}

int jcm_link_outbox(jcm *j, const char *peer, int64_t after, int64_t limit, json_t **messages) {
  static const char q[] = "SELECT n, type, tx, msg, sig FROM outbox WHERE peer = ? AND n > ? ORDER BY n LIMIT ?";
  *messages = json_array();
  jcm_stmt *s = db_q(j->st, q, "sii", peer, after, limit);
  if (!s) return JCM_ERROR;
  int step;
  while ((step = db_step(j->st, s)) == JCM_ROW)
    json_array_append_new(*messages, json_pack("{s:I,s:s,s:s,s:s,s:s}", "n", (json_int_t)col_int(j->st, s, 0), "type",
                                               col_text(j->st, s, 1), "tx", col_text(j->st, s, 2), "msg",
                                               col_text(j->st, s, 3), "sig", col_text(j->st, s, 4)));
  db_reset(j->st, s);
  return step == JCM_DONE ? JCM_OK : JCM_ERROR;
}

int jcm_link_deliver(jcm *from, jcm *to, const jcm_actor *actor, int *delivered, json_t **refusal) {
  int64_t last = 0;
  json_t *msgs = NULL;
  *delivered = 0;
  *refusal = NULL;
  if (jcm_link_last_received(to, from->registry, &last) != JCM_OK ||
      jcm_link_outbox(from, to->registry, last, 1000, &msgs) != JCM_OK) {
    json_decref(msgs);
    return JCM_ERROR;
  }
  int rc = JCM_OK;
  size_t i;
  json_t *m;
  json_array_foreach(msgs, i, m) {
    json_t *cmd = json_pack("{s:s,s:O,s:O}", "cmd", "link.receive", "msg", json_object_get(m, "msg"), "sig",
                            json_object_get(m, "sig"));
    json_t *result = NULL;
    rc = jcm_submit(to, cmd, actor, &result);
    json_decref(cmd);
    json_t *err = json_object_get(result, "error");
    if (rc == JCM_REFUSED && jcm__i(err, "code", 0) == C_LINK_DUPLICATE) rc = JCM_OK;
    if (rc != JCM_OK) {
      *refusal = result;
      break;
    }
    json_decref(result);
    (*delivered)++;
  }
  json_decref(msgs);
  return rc;
}

/*
 * lhttp_internal.h -- what the files of `require "host.http.core"` share:
 * lhttp.c (the module, sessions, reading request heads, headers and
 * arguments), lhttp_body.c (bodies), lhttp_resp.c (responses, and the
 * client's response heads) and lhttp_ws.c (WebSocket frames).
 *
 * A session is the HTTP state of one connection: the head being parsed
 * (struct http_msg, over the connection's read buffer), then a copy of
 * the complete head while its request is served, the body's framing, the
 * response's state, and after an upgrade the WebSocket's.  It is a
 * userdata with three user values: the conn's userdata (kept alive, and
 * used to call its send/write/flush), the options userdata, and the
 * buffer a chunked body or a fragmented message is gathered in.
 *
 * A request is the Lua table the handler gets (method, target... and,
 * behind a light-userdata key, its response object); a response is a
 * small userdata {session, seq}.  Both are per request; the session's
 * `seq` says which request is current, so a request or response kept
 * after its handler returned cannot touch the next one's state.
 */
#ifndef HOST_LHTTP_INTERNAL_H
#define HOST_LHTTP_INTERNAL_H

#include "http1.h"
#include "http_chunked.h"
#include "list.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>

struct conn;
struct worker;

#define HTTP_SESS_META "host.http.session"
#define HTTP_RES_META "host.http.response"
#define HTTP_OPTS_META "host.http.options"
#define HTTP_WS_META "host.http.websocket"

/* The upvalues every function of the module carries. */
#define UV_MOD lua_upvalueindex(1)    /* struct hmod */
#define UV_CACHE lua_upvalueindex(2)  /* interned strings, by index (C_*) */
#define UV_RESMT lua_upvalueindex(3)  /* the response metatable */
#define UV_REQMT lua_upvalueindex(4)  /* the request metatable (core.init) */
#define UV_WSMT lua_upvalueindex(5)   /* the WebSocket metatable */
#define UV_SESSMT lua_upvalueindex(6) /* the session metatable */
#define NUPVALUES 6

/* Indexes of the strings kept in the cache table (UV_CACHE): methods by
 * enum http_method, then versions; then common header names (anchored
 * so that building a headers table finds them interned). */
enum {
  C_V10 = 16,          /* "1.0" */
  C_V11,               /* "1.1" */
  C_REQMETHODS,        /* the request's methods table */
  C_FIELDSMT,          /* the metatable of http.headers' blocks */
  C_KEYS,              /* the request's field names (hmod.k_*), 7 of them */
  C_NAMES = C_KEYS + 7 /* first common header name */
};

/* Options of a server or client (core.options), shared by its
 * sessions. */
struct hopts {
  struct http_limits lim; /* head limits (http1.h) */
  uint64_t max_body;      /* request body bytes (413) */
  uint32_t header_ms;     /* the whole head, from its first byte (408) */
  uint32_t body_ms;       /* between two reads of a body (408) */
  uint32_t idle_ms;       /* keep-alive: waiting for the next request */
  uint32_t send_ms;       /* between two progresses of a send */
  uint32_t max_args;      /* req:args() pairs */
  uint64_t ws_max_frame;  /* WebSocket frame payload (1009) */
  uint64_t ws_max_msg;    /* WebSocket message (1009) */
};

/* The parser's field array and the copy of a head, while a message is
 * parsed or served; pooled per worker (hmod.spare). */
#define WORK_INLINE 2048 /* head bytes kept inside the block */
struct hwork {
  uint32_t nfields;              /* entries of fields[] */
  uint32_t headcap;              /* bytes at head */
  char *head;                    /* inline[] or a larger malloc'd copy */
  char inline_head[WORK_INLINE]; /* */
  struct http_header fields[];   /* nfields entries */
};

/* The module's state, one per VM (upvalue 1 of every function). */
struct hmod {
  struct worker *w;
  int64_t date_sec; /* the second date[] shows */
  char date[40];    /* "Date: ...\r\n" */
  uint32_t datelen; /* its length */
  struct hwork *spare[16];
  int nspare;
  struct list idle; /* sessions waiting for a next request (idle_node) */
  uint64_t rng;     /* WebSocket masking keys (a client's) */
  /* The request's field names, interned and anchored (UV_CACHE): a key
   * is compared by its address. */
  const char *k_method, *k_target, *k_path, *k_query, *k_version;
  const char *k_headers, *k_peer;
};

/* session.resp */
enum {
  RESP_NONE,    /* nothing sent yet */
  RESP_LENGTH,  /* streaming with a Content-Length: resp_left to go */
  RESP_CHUNKED, /* streaming, chunked */
  RESP_CLOSE,   /* streaming, delimited by the close (HTTP/1.0) */
  RESP_DONE     /* complete */
};

struct hsess {
  void *box;                  /* the conn's box (its first field is the conn) */
  struct list_node idle_node; /* in hmod.idle while waiting idle */
  const struct hopts *o;      /* the options (a client's may be defaults) */
  struct hmod *mod;           /* the module */
  struct hwork *work;         /* while a head is parsed or served, else NULL */
  struct http_msg m;          /* the head being parsed, then the current one */
  uint64_t head_due;          /* when the head must be complete (ns), 0 */
  uint32_t seq;               /* the current request (responses check it) */
  uint32_t headlen;           /* bytes of the current head in work->head */
  uint64_t body_left;         /* HTTP_BODY_LENGTH: bytes not read yet */
  uint64_t body_read;         /* body bytes delivered so far */
  struct http_chunked ch;     /* HTTP_BODY_CHUNKED: the decoder */
  uint64_t resp_left;         /* RESP_LENGTH: bytes still to write */
  uint32_t acclen;            /* bytes gathered in user value 3 */
  uint32_t ws_utf8;           /* a text message's UTF-8 state */
  uint32_t ws_ms;             /* a WebSocket's receive timeout, 0 none */
  uint8_t body;               /* enum http_body of the current message */
  uint8_t body_done;          /* the body was read (or discarded) to its end */
  uint16_t body_err;          /* the status a failed body read calls for */
  uint8_t resp;               /* RESP_* */
  uint8_t keep;               /* the connection may carry another message */
  uint8_t client;             /* we sent the request */
  uint8_t parsing;            /* a head is being parsed (work is set) */
  uint8_t sent100;            /* "100 Continue" was written */
  uint8_t head_req;           /* the request was HEAD: no body goes out */
  uint8_t upgraded;           /* a WebSocket now */
  uint8_t active;             /* a request is being served */
  uint8_t ws_flags;           /* ws_parse_header flags (WS_SERVER...) */
  uint8_t ws_op;              /* the fragmented message's opcode */
  uint8_t ws_sent_close;      /* our close frame went out */
  uint8_t ws_got_close;       /* the peer's close frame came */
};

/* A request or response object: which session, which request. */
struct hobj {
  struct hsess *s;
  uint32_t seq;
  uint32_t fields; /* a request: its table of the handler's fields exists */
};

/* ---- lhttp.c ---------------------------------------------------------- */

/* The conn of s, or NULL once it is closed (or closing). */
struct conn *hs_conn(const struct hsess *s);
/* ---- lhttp_req.c -----------------------------------------------------------
 */

/* The session argument at idx (a session, a request, a response or a
 * WebSocket), checked; raises on anything else and on a request that is
 * over.  Pushes the session's userdata. */
struct hsess *hs_check(lua_State *L, int idx);
/* The session at idx (nothing else; nothing pushed); raises. */
struct hsess *hs_session(lua_State *L, int idx);
/* Pushes the request and the response objects of s's current request
 * (the session is argument 1); returns 2. */
int hs_push_request(lua_State *L, struct hsess *s);
int lhttp_headers(lua_State *L);
int lhttp_header(lua_State *L);
int lhttp_args(lua_State *L);
int lhttp_peer(lua_State *L);
extern const luaL_Reg lhttp_req_methods[];
extern const luaL_Reg lhttp_req_meta[];

/* ---- lhttp.c, again ------------------------------------------------------ */

/* nil, err; returns 2 (err: an API error word). */
int hs_fail(lua_State *L, const char *err);
/* The API's word for why input stopped on c: "closed", "timeout" (the
 * flag is cleared), "reset"...; NULL while input may still come. */
const char *hs_input_error(struct conn *c);
/* Waits for input on s's conn (need: bytes the caller needs buffered;
 * ms: the deadline of this wait, 0 none): the task yields and k runs
 * when something happened (call hs_resumed first).  The session is
 * argument 1 of the running function. */
int hs_wait(lua_State *L, struct hsess *s, struct conn *c, size_t need,
            uint32_t ms, lua_KContext ctx, lua_KFunction k);
/* In a continuation: buffers the chunk that woke the task.  Returns c,
 * or NULL if the conn is gone. */
struct conn *hs_resumed(lua_State *L, struct hsess *s);
/* Calls method `name` of s's conn with the nargs values on top of the
 * stack, as lua_callk would, with continuation k (nresults 2). */
int hs_conn_call(lua_State *L, int sidx, const char *name, int nargs,
                 lua_KContext ctx, lua_KFunction k);
/* The work block for s (pooled), or NULL if out of memory. */
struct hwork *hs_work(struct hsess *s);
void hs_work_release(struct hsess *s);
/* Ends the current message's head: copies it out of the read buffer
 * (n bytes) and sets the body's framing.  0, or -1 (no memory). */
int hs_take_head(struct hsess *s, struct conn *c, size_t n);

/* Pushes the headers of the current head as a table (names lower case,
 * repeated fields joined; set-cookie a list) (lhttp_req.c). */
void hs_push_headers(lua_State *L, struct hsess *s);

/* ---- lhttp_body.c -------------------------------------------------------- */

int lhttp_body(lua_State *L);
int lhttp_read(lua_State *L);
/* Discards what is left of the body before the next request: 0 done, 1
 * waiting (the task yields: return its result), -1 cannot (close). */
int hs_discard(lua_State *L, struct hsess *s, struct conn *c, int *ret,
               lua_KContext ctx, lua_KFunction k);
/* The gathering buffer (user value 3 of the session at sidx): room for
 * `more` bytes after acclen; NULL past max. */
char *hs_acc(lua_State *L, int sidx, struct hsess *s, size_t more);

/* ---- lhttp_resp.c ------------------------------------------------------- */

/* Writes a complete error response (status, short text body) and marks
 * the connection for closing. */
void hs_error_response(struct hsess *s, struct conn *c, int status);
/* The handler returned: completes what it left (an empty 200, the last
 * chunk); may mark the connection for closing. */
void hs_end_response(struct hsess *s, struct conn *c);
void lhttp_resp_open(lua_State *L);
int lhttp_response(lua_State *L);
int lhttp_abort(lua_State *L);
int lhttp_upgrade(lua_State *L);
int lhttp_fields(lua_State *L);
extern const luaL_Reg lhttp_res_methods[];

/* ---- lhttp_ws.c ------------------------------------------------------- */

int lhttp_ws_new(lua_State *L);
int lhttp_ws_accept(lua_State *L);
int lhttp_ws_key(lua_State *L);
extern const luaL_Reg lhttp_ws_methods[];

#endif

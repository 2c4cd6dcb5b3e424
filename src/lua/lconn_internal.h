/*
 * lconn_internal.h -- what the files of the "host.conn" type share:
 * lconn.c (the type, its errors, host.connect and the small methods),
 * lconn_read.c (recv, read, lines, buffered) and lconn_send.c (write,
 * send, flush).
 */
#ifndef HOST_LCONN_INTERNAL_H
#define HOST_LCONN_INTERNAL_H

#include <lua.h>
#include <stddef.h>

struct conn;

#define CONN_META "host.conn"
#define RECV_DEFAULT 65536
#define LINES_FLAG ((lua_KContext)1) /* the read's continuation context */

/* conn.rmode */
enum { RECV_ANY, READ_N, READ_LINE, READ_LINE_KEEP, READ_ALL, READ_UNTIL };

/* The userdata: a box, never the conn itself (conn.c frees the conn and
 * clears the box's pointer, its first field, when the socket is done). */
struct conn_box {
  struct conn *c;
  const void *tag; /* &lconn_tag: what lconn_check recognises */
};
extern const char lconn_tag;

/* The conn at idx; raises on a wrong type or a closed connection.  The
 * type is told by the box's size and tag, not by its metatable: that
 * needs no push, compare and pop on every method call (a fifth of a
 * small message's instructions), and only C code makes userdata, none
 * of which could hold the address of lconn_tag by chance (the size is
 * checked first: a smaller block has no tag to read; light userdata
 * have no size). */
struct conn *lconn_check(lua_State *L, int idx);

/* The API's error words (index 1..): conn.lasterr keeps the index. */
extern const char *const lconn_words[];
enum {
  W_NONE,
  W_CLOSED,
  W_TIMEOUT,
  W_RESET,
  W_REFUSED,
  W_UNREACHABLE,
  W_TOOLONG,
  W_NORES,
  W_ERROR,
  W_TLS
};
int lconn_word_of(int err);
/* nil, err (err remembered as c's last error if c); returns 2. */
int lconn_fail(lua_State *L, struct conn *c, const char *err);
/* The same for an IO_E* code (an unnamed one is logged at debug). */
int lconn_fail_code(lua_State *L, struct conn *c, int code);

/* Resumes task t waiting on c: at once from the loop, on the next turn
 * from inside a task or a close (a task is never resumed inside one). */
void lconn_wake(struct conn *c, void *task);

/* lconn_read.c */
int lconn_recv(lua_State *L);
int lconn_read(lua_State *L);
int lconn_lines(lua_State *L);
int lconn_buffered(lua_State *L);
/* lconn_send.c */
int lconn_write(lua_State *L);
int lconn_send(lua_State *L);
int lconn_flush(lua_State *L);

#endif

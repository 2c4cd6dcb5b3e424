/* placeholder until the epoll backend lands */
#include "io_internal.h"
static int epoll_init(struct io_loop *loop) { (void)loop; return IO_ENOSYS; }
const struct io_backend io_backend_epoll = {"epoll", epoll_init, 0, 0, 0, 0, 0, 0, 0, 0};

// platform/memory.hpp: the Windows heap gives large blocks back to the system by itself.
#include "platform/memory.hpp"

namespace remsh::agent {

void release_free_memory() {}

}  // namespace remsh::agent

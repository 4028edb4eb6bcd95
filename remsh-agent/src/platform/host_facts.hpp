// Facts about the agent's host, reported in every hello so operators see what a worker is
// (remsh agents): OS and version, architecture, CPUs, memory, host name.
#pragma once

#include <boost/json/object.hpp>

namespace remsh::agent {

boost::json::object host_facts();

}  // namespace remsh::agent

// Facts about the agent's host, reported in every hello so operators see what a worker is
// (remsh agents): OS and version, architecture, CPUs, memory, host name, and the free disk
// space where its work directory is.
#pragma once

#include <boost/json/object.hpp>

#include <filesystem>

namespace remsh::agent {

boost::json::object host_facts(const std::filesystem::path& work_dir);

}  // namespace remsh::agent

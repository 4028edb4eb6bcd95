#include "daemon/notice_delivery.hpp"

#include <iostream>

namespace remsh::master {

NoticeDelivery::NoticeDelivery(std::weak_ptr<AgentLink> link, std::string id,
                               std::function<void()> delivered)
    : link_(std::move(link)), id_(std::move(id)), delivered_(std::move(delivered)) {}

void NoticeDelivery::on_message(const protocol::ControlMessage& message) {
  if (finished_) return;
  if (message.type == "result") {
    finished_ = true;
    if (delivered_) delivered_();
    done();
  } else if (message.type == "close") {
    done();  // closed without a result: stays pending
  }
}

void NoticeDelivery::on_data(protocol::ChannelData data) {
  // Notices carry no DATA: a confused agent. Return the credit and end the channel.
  auto link = link_.lock();
  if (!link) return;
  link->session().consumed(channel_, data.bytes.size());
  link->session().fail_channel(channel_, {protocol::ErrorTag::bad_channel, "a notice carries no data"});
  done();
}

void NoticeDelivery::on_failed(const protocol::ProtocolError& error) {
  std::cerr << "remsh-master: notice " << id_ << " not taken: " << error.describe() << std::endl;
  done();
}

void NoticeDelivery::on_link_gone(const std::string&) { done(); }

void NoticeDelivery::done() {
  auto link = link_.lock();
  if (!link) return;
  link->notices_in_flight().erase(id_);
  if (link->session().channel_open(channel_)) link->session().close_channel(channel_);
  link->wake();
}

}  // namespace remsh::master

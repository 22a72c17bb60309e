/*
 * cxxmap - C++ allocations behind long template names, for the stack
 * format: a std::map<std::string, std::vector<std::pair<...>>> filled
 * through a member function template, and objects made with operator
 * new (one leaked).  Every allocation goes through operator new and
 * malloc, which allocation stacks leave out: they start at the program's
 * own code.  Prints "ready PID" and returns from main (for --args).
 */
#include <cstdio>
#include <map>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

namespace heapdbg_test {

template <typename Key, typename Value>
class registry_with_a_rather_long_name {
public:
	template <typename Iter>
	__attribute__((noinline)) void add_all(Iter first, Iter last)
	{
		for (; first != last; ++first)
			table_[first->first].push_back(std::make_pair(first->first.size(), first->second));
	}
	std::map<Key, std::vector<std::pair<std::size_t, Value>>> table_;
};

struct widget {
	char name[40];
	widget *next;
};

__attribute__((noinline)) widget *
make_widget(widget *next)
{
	widget *w = new widget();
	w->next = next;
	return w;
}

} // namespace heapdbg_test

heapdbg_test::registry_with_a_rather_long_name<std::string, std::string> *reg;

int
main()
{
	using namespace heapdbg_test;
	std::vector<std::pair<std::string, std::string>> in;
	for (int i = 0; i < 20; i++)
		in.push_back(std::make_pair(std::string(40 + i, 'k'), std::string(60, 'v')));
	/* on the heap, held by a global: still reachable at the exit, with
	 * its nodes and vectors (a static object would be destroyed) */
	reg = new registry_with_a_rather_long_name<std::string, std::string>();
	reg->add_all(in.begin(), in.end());
	widget *lost = make_widget(make_widget(nullptr));
	lost = nullptr;
	std::printf("ready %d\n", (int)getpid());
	std::fflush(stdout);
	return lost != nullptr;
}

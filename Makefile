# The two commands of the README, and the build they need.
#   make        build build/jcm
#   make run    install what is missing, build, run the main job (the TH014 story), then serve it
#   make test   install what is missing, build, run every test (plain and ASan/UBSan)
BUILD ?= build
SAN_BUILD ?= build-san
JOBS ?= 2

.PHONY: all deps build run test test-plain test-san bench bench-layout bench-http format clean

all: build

deps:
	@./scripts/install-deps

# SQLite's source, fetched once (and again when the script's pinned version
# changes: the script replaces the files only then, so SQLite is recompiled
# only then)
SQLITE_SRC = third_party/sqlite/VERSION
$(SQLITE_SRC): scripts/fetch-sqlite
	./scripts/fetch-sqlite
	@touch $@

$(BUILD)/build.ninja: | $(SQLITE_SRC)
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: $(BUILD)/build.ninja $(SQLITE_SRC)
	cmake --build $(BUILD) -j $(JOBS)

# scripts/run-demo: fresh demo stores, `jcm demo`, one user per role with a new
# random password each, the URL and the table of users, then `jcm serve` on
# demo-THA01.db (127.0.0.1:8080; JCM_LISTEN=HOST:PORT for another) until Ctrl-C.
run: deps build
	JCM=./$(BUILD)/jcm ./scripts/run-demo

$(SAN_BUILD)/build.ninja: | $(SQLITE_SRC)
	cmake -S . -B $(SAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DJCM_SANITIZE=ON

test-plain: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-san: $(SAN_BUILD)/build.ninja $(SQLITE_SRC)
	cmake --build $(SAN_BUILD) -j $(JOBS)
	cd $(SAN_BUILD) && ctest --output-on-failure -j $(JOBS)

test: deps
	$(MAKE) test-plain
	$(MAKE) test-san

# The full engine benchmark (1,000,000 transfers; about 20 minutes and 6 GB of
# store files, written under build/bench/). BENCH_ARGS=--quick for a smoke run.
bench: deps build
	mkdir -p $(BUILD)/bench && cd $(BUILD)/bench && ../bench_engine bench-engine.db $(BENCH_ARGS)

# What a transfer's row writes cost, table layout by table layout, without the
# engine (bench/bench_layout.c; about 10 minutes, stores under build/bench/).
bench-layout: deps build
	mkdir -p $(BUILD)/bench && cd $(BUILD)/bench && ../bench_layout bench-layout.db $(BENCH_ARGS)

# The HTTP benchmark (docs/benchmarks.md): wrk against jcm serve and a bare
# libmicrohttpd ceiling, about a minute; the store goes under build/bench-http/.
bench-http: deps build
	sh bench/bench_http.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(SAN_BUILD)

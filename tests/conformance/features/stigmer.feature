Feature: Stigmer's own scenarios
  What the conformance kit does not cover yet, in the kit's own step wording, run on the same
  real path (API, orchestrator, runner) by tests/conformance/test_ctk_scenarios.py.

  Scenario: Wait is a durable timer
    Given a workflow with definition:
    """yaml
    document:
      dsl: '1.0.0'
      namespace: stigmer
      name: own-wait
      version: '1.0.0'
    do:
      - pause:
          wait: PT1S
      - after:
          set:
            waited: true
    """
    When the workflow is executed
    Then the workflow should complete with output:
    """yaml
    waited: true
    """

  Scenario: Emit reaches a listen of the same execution
    Given a workflow with definition:
    """yaml
    document:
      dsl: '1.0.0'
      namespace: stigmer
      name: own-emit-listen
      version: '1.0.0'
    do:
      - both:
          fork:
            branches:
              - hear:
                  listen:
                    to:
                      one:
                        with:
                          type: io.stigmer.own.ping
              - say:
                  do:
                    - settle:
                        wait: PT2S
                    - ping:
                        emit:
                          event:
                            with:
                              source: https://stigmer.io/tests
                              type: io.stigmer.own.ping
                              data:
                                hello: world
      - pick:
          set:
            heard: ${ .[0][0].hello }
    """
    When the workflow is executed
    Then the workflow should complete with output:
    """yaml
    heard: world
    """

  Scenario: Run a shell command
    Given a workflow with definition:
    """yaml
    document:
      dsl: '1.0.0'
      namespace: stigmer
      name: own-run-shell
      version: '1.0.0'
    do:
      - greet:
          run:
            shell:
              command: echo "$1"
              arguments:
                - hello
            return: stdout
          output:
            as: '${ {said: (. | rtrimstr("\n"))} }'
    """
    When the workflow is executed
    Then the workflow should complete with output:
    """yaml
    said: hello
    """

  Scenario: Retry then recover in catch
    Given a workflow with definition:
    """yaml
    document:
      dsl: '1.0.0'
      namespace: stigmer
      name: own-retry
      version: '1.0.0'
    do:
      - guarded:
          try:
            - flaky:
                raise:
                  error:
                    type: https://serverlessworkflow.io/spec/1.0.0/errors/communication
                    status: 503
          catch:
            errors:
              with:
                status: 503
            retry:
              delay:
                milliseconds: 100
              backoff:
                exponential: {}
              limit:
                attempt:
                  count: 2
            do:
              - recover:
                  set:
                    recovered: true
    """
    When the workflow is executed
    Then the workflow should complete with output:
    """yaml
    recovered: true
    """

  Scenario: A task timeout faults with the timeout error
    Given a workflow with definition:
    """yaml
    document:
      dsl: '1.0.0'
      namespace: stigmer
      name: own-timeout
      version: '1.0.0'
    do:
      - slow:
          wait: PT10S
          timeout:
            after: PT1S
    """
    When the workflow is executed
    Then the workflow should fault with error:
    """yaml
    type: https://serverlessworkflow.io/spec/1.0.0/errors/timeout
    status: 408
    instance: /do/0/slow
    """

  Scenario: Export writes the context that later tasks read
    Given a workflow with definition:
    """yaml
    document:
      dsl: '1.0.0'
      namespace: stigmer
      name: own-export
      version: '1.0.0'
    do:
      - remember:
          set:
            colour: blue
          export:
            as: '${ {favourite: .colour} }'
      - forget:
          set:
            other: 1
      - recall:
          set:
            favourite: ${ $context.favourite }
    """
    When the workflow is executed
    Then the workflow should complete with output:
    """yaml
    favourite: blue
    """

  Scenario: If skips a task
    Given a workflow with definition:
    """yaml
    document:
      dsl: '1.0.0'
      namespace: stigmer
      name: own-if
      version: '1.0.0'
    do:
      - start:
          set:
            n: 1
      - skipped:
          if: ${ .n > 5 }
          set:
            n: 100
      - done:
          set:
            n: ${ .n + 1 }
    """
    When the workflow is executed
    Then the workflow should complete with output:
    """yaml
    n: 2
    """

  Scenario: While stops a loop
    Given a workflow with definition:
    """yaml
    document:
      dsl: '1.0.0'
      namespace: stigmer
      name: own-while
      version: '1.0.0'
    do:
      - count:
          for:
            each: x
            in: ${ [1, 2, 3, 4, 5] }
          while: ${ (.total // 0) < 3 }
          do:
            - add:
                set:
                  total: ${ (.total // 0) + $x }
    """
    When the workflow is executed
    Then the workflow should complete with output:
    """yaml
    total: 3
    """

  Scenario: Exit leaves the enclosing task list
    Given a workflow with definition:
    """yaml
    document:
      dsl: '1.0.0'
      namespace: stigmer
      name: own-exit
      version: '1.0.0'
    do:
      - inner:
          do:
            - first:
                set:
                  step: 1
                then: exit
            - never:
                set:
                  step: 99
      - outer:
          set:
            step: ${ .step + 1 }
    """
    When the workflow is executed
    Then the workflow should complete with output:
    """yaml
    step: 2
    """

  Scenario: Fork without compete returns every branch
    Given a workflow with definition:
    """yaml
    document:
      dsl: '1.0.0'
      namespace: stigmer
      name: own-fork
      version: '1.0.0'
    do:
      - both:
          fork:
            branches:
              - a:
                  set:
                    branch: a
              - b:
                  set:
                    branch: b
    """
    When the workflow is executed
    Then the workflow should complete with output:
    """yaml
    - branch: a
    - branch: b
    """

  Scenario: Nested try: the inner catch raises, the outer catches
    Given a workflow with definition:
    """yaml
    document:
      dsl: '1.0.0'
      namespace: stigmer
      name: own-nested-try
      version: '1.0.0'
    do:
      - outer:
          try:
            - inner:
                try:
                  - fail:
                      raise:
                        error:
                          type: https://serverlessworkflow.io/spec/1.0.0/errors/validation
                          status: 400
                catch:
                  errors:
                    with:
                      status: 400
                  do:
                    - escalate:
                        raise:
                          error:
                            type: https://serverlessworkflow.io/spec/1.0.0/errors/runtime
                            status: 500
          catch:
            errors:
              with:
                status: 500
            as: problem
            do:
              - handled:
                  set:
                    handledStatus: ${ $problem.status }
    """
    When the workflow is executed
    Then the workflow should complete with output:
    """yaml
    handledStatus: 500
    """

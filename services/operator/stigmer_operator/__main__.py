from stigmer_operator.main import main

main()

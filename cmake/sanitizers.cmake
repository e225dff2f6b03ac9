# SANITIZER=address,undefined (or thread) instruments every target of the build.
if(SANITIZER)
    string(REPLACE "," ";" _san_list "${SANITIZER}")
    foreach(_san IN LISTS _san_list)
        add_compile_options(-fsanitize=${_san})
        add_link_options(-fsanitize=${_san})
    endforeach()
    add_compile_options(-fno-omit-frame-pointer -fno-sanitize-recover=all)
endif()
